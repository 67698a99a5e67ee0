// Local days and months in a time zone, as the KPI API takes them.

/** YYYY-MM-DD of `at` in `tz`. */
export function localDay(at: Date, tz: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at)
}

/** The day `days` before a YYYY-MM-DD day. */
export function daysBefore(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`)
  date.setUTCDate(date.getUTCDate() - days)
  return date.toISOString().slice(0, 10)
}

/** YYYY-MM of `at` in `tz`. */
export function localMonth(at: Date, tz: string): string {
  return localDay(at, tz).slice(0, 7)
}

/** Every IANA zone the browser knows, the given one included. */
export function timeZones(current: string): string[] {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []
  return zones.includes(current) ? zones : [current, ...zones]
}
