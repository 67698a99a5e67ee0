import { describe, expect, it } from 'vitest'
import { followActivity, type LogEntry } from './activity'

function entry(id: number): LogEntry {
  return { id, task_id: 1, user_id: 1, action_type: 'task_updated', detail: `change ${id}`, created_at: '2026-01-01T00:00:00Z' }
}

function stream(text: string): Response {
  return new Response(new Blob([text]).stream(), { headers: { 'Content-Type': 'text/event-stream' } })
}

const event = (id: number) => `event: activity\nid: c${id}\ndata: ${JSON.stringify(entry(id))}\n\n`

describe('followActivity', () => {
  it('resumes after a drop from the last event id, reloads when it has no cursor, passes resets on', async () => {
    const stop = new AbortController()
    const seen: number[] = []
    const statuses: string[] = []
    const resumedFrom: (string | null)[] = []
    let resets = 0
    const answers = [
      () => stream(event(1) + event(2)), // then the connection drops
      () => { throw new TypeError('network down') },
      () => stream('event: reset\ndata: {}\n\n' + event(3)),
    ]
    const fetch = async (request: Request): Promise<Response> => {
      resumedFrom.push(request.headers.get('Last-Event-ID'))
      const answer = answers.shift()
      if (!answer) {
        stop.abort()
        throw new DOMException('aborted', 'AbortError')
      }
      return answer()
    }

    await followActivity(
      { onEntry: (item) => seen.push(item.id), onReset: () => (resets += 1), onStatus: (status) => statuses.push(status) },
      stop.signal,
      { fetch, backoff: () => 0 },
    )

    expect(seen).toEqual([1, 2, 3])
    expect(resets).toBe(2) // the first connection had no cursor; then the server's reset
    expect(resumedFrom).toEqual([null, 'c2', 'c2', 'c3'])
    expect(statuses).toContain('reconnecting')
    expect(statuses.at(-2)).toBe('live')
  })
})
