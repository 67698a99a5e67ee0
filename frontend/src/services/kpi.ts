// The KPIs and the flow metrics, for a month (the KPIs) and a window of days (flow).
import type { components } from '@/api/kpi'
import { kpiApi, unwrap } from './http'

type Schemas = components['schemas']
export type CompletionRate = Schemas['CompletionRate']
export type ByUser = Schemas['ByUserKpi']
export type Monthly = Schemas['MonthlyKpi']
export type Trend = Schemas['Trend']
export type FlowTimes = Schemas['FlowTimes']
export type Throughput = Schemas['Throughput']
export type Wip = Schemas['WorkInProgress']
export type Ageing = Schemas['AgeingWork']
export type Cumulative = Schemas['CumulativeFlow']
export type CompletedTask = Schemas['CompletedTask']
export type TimeZone = Schemas['TimeZone']

/** A zone name for the API; the server refuses (422) a name it does not know. */
export function asTimeZone(name: string): TimeZone {
  return name as TimeZone
}

export interface Period {
  year: number
  month: number // 1-12
  tz: string
}

export interface Window {
  from: string // YYYY-MM-DD
  to: string
  tz: string
}

export interface MonthKpis {
  completion: CompletionRate
  byUser: ByUser
  monthly: Monthly
  trend: Trend
}

export interface FlowKpis {
  cumulative: Cumulative
  times: FlowTimes
  completions: CompletedTask[]
  throughput: Throughput
  wip: Wip
  ageing: Ageing
}

function monthKey(year: number, month: number): string {
  return `${year}-${String(month).padStart(2, '0')}`
}

/** The month's KPIs, and the trend over the twelve months up to it. */
export async function monthKpis({ year, month, tz }: Period): Promise<MonthKpis> {
  const query = { year, month, tz: asTimeZone(tz) }
  const first = new Date(Date.UTC(year, month - 12, 1))
  const trendQuery = {
    from: monthKey(first.getUTCFullYear(), first.getUTCMonth() + 1),
    to: monthKey(year, month),
    tz: asTimeZone(tz),
  }
  const [completion, byUser, monthly, trend] = await Promise.all([
    unwrap(kpiApi.GET('/kpi/completion-rate', { params: { query } })),
    unwrap(kpiApi.GET('/kpi/by-user', { params: { query } })),
    unwrap(kpiApi.GET('/kpi/monthly', { params: { query } })),
    unwrap(kpiApi.GET('/kpi/trend', { params: { query: trendQuery } })),
  ])
  return { completion, byUser, monthly, trend }
}

/** The flow metrics of a window of local days. */
export async function flowKpis(window: Window): Promise<FlowKpis> {
  const query = { from: window.from, to: window.to, tz: asTimeZone(window.tz) }
  const [cumulative, times, completions, throughput, wip, ageing] = await Promise.all([
    unwrap(kpiApi.GET('/kpi/flow/cumulative', { params: { query } })),
    unwrap(kpiApi.GET('/kpi/flow/times', { params: { query } })),
    unwrap(kpiApi.GET('/kpi/flow/completions', { params: { query: { ...query, page_size: 200 } } })),
    unwrap(kpiApi.GET('/kpi/flow/throughput', { params: { query: { ...query, per: 'week' } } })),
    unwrap(kpiApi.GET('/kpi/flow/wip', { params: { query } })),
    unwrap(kpiApi.GET('/kpi/flow/ageing', { params: { query } })),
  ])
  return { cumulative, times, completions: completions.items, throughput, wip, ageing }
}

/** The browser's own time zone (IANA name), UTC when it has none. */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
}
