// The activity log: pages of entries, and the live stream (GET /api/logs/stream, server-sent
// events read over fetch, since EventSource cannot send the bearer token).
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import type { components } from '@/api/logs'
import { authorizedFetch, BASE_URL, logsApi, unwrap } from './http'

export type LogEntry = components['schemas']['LogEntryRead']

export async function listActivity(
  filters: { task_id?: number; user_id?: number } = {},
  cursor: string | null = null,
): Promise<{ items: LogEntry[]; nextCursor: string | null }> {
  const query = { ...filters, page_size: 50, cursor: cursor ?? undefined }
  const page = await unwrap(logsApi.GET('/logs/', { params: { query } }))
  return { items: page.items, nextCursor: page.next_cursor }
}

export interface StreamHandlers {
  onEntry(entry: LogEntry): void
  /** Reload what is shown: on every connection without a cursor (the first one included),
   * and when the server cannot resume from ours (`event: reset`). */
  onReset(): void
  onStatus(status: 'live' | 'reconnecting'): void
}

export interface StreamOptions {
  fetch?: (request: Request) => Promise<Response>
  /** Milliseconds before reconnecting, by attempt (1, 2, ...). */
  backoff?: (attempt: number) => number
}

const defaultBackoff = (attempt: number): number => Math.min(500 * 2 ** (attempt - 1), 10_000)

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
  })
}

/** Follow the stream until `signal` aborts; after a drop, resume from the last event id. */
export async function followActivity(
  handlers: StreamHandlers,
  signal: AbortSignal,
  options: StreamOptions = {},
): Promise<void> {
  const send = options.fetch ?? authorizedFetch
  const backoff = options.backoff ?? defaultBackoff
  let lastEventId: string | null = null
  let attempt = 0
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      if (message.id) lastEventId = message.id
      if (message.event === 'reset') handlers.onReset()
      else if (message.event === 'activity') handlers.onEntry(JSON.parse(message.data) as LogEntry)
    },
  })
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream' }
      if (lastEventId) headers['Last-Event-ID'] = lastEventId
      const response = await send(new Request(`${BASE_URL}/logs/stream`, { headers, signal }))
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`)
      attempt = 0
      handlers.onStatus('live')
      // Without a cursor the stream carries only what comes from now on: reload what is shown.
      if (!lastEventId) handlers.onReset()
      parser.reset()
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(value)
      }
    } catch {
      // a drop, an abort, or a refusal: all end in the reconnect below unless aborted
    }
    if (signal.aborted) return
    handlers.onStatus('reconnecting')
    attempt += 1
    await wait(backoff(attempt), signal)
  }
}
