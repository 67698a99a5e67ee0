import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setAccessToken } from './session'
import { changedFields, changesFrom, EditConflict, updateTask, type Task } from './tasks'

const base: Task = {
  id: 7, title: 'Write the report', description: null, status: 'todo', assignee_id: null, creator_id: 1,
  due_date: null, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', completed_at: null, version: 3,
}
const theirs: Task = { ...base, title: 'Write the annual report', assignee_id: 4, version: 4 }
const problem412 = { type: 't', title: 'Precondition failed', status: 412, detail: 'stale', code: 'precondition_failed', message: 'stale' }

let requests: Request[] = []
function serve(...answers: Response[]): void {
  vi.stubGlobal('fetch', vi.fn(async (input: Request | string, init?: RequestInit) => {
    requests.push(input instanceof Request ? input.clone() : new Request(input, init))
    const answer = answers.shift()
    if (!answer) throw new Error('no answer left')
    return answer
  }))
}

beforeEach(() => {
  requests = []
  setAccessToken('token-1')
})
afterEach(() => vi.unstubAllGlobals())

describe('updateTask', () => {
  it('sends the version the user saw as If-Match, with the bearer token', async () => {
    serve(Response.json({ ...base, status: 'done', version: 4 }))

    const task = await updateTask(base, { status: 'done' })

    expect(task.version).toBe(4)
    const [sent] = requests
    expect(sent?.method).toBe('PATCH')
    expect(new URL(sent?.url ?? '').pathname).toBe('/api/tasks/7')
    expect(sent?.headers.get('If-Match')).toBe('"3"')
    expect(sent?.headers.get('Authorization')).toBe('Bearer token-1')
    expect(await sent?.json()).toEqual({ status: 'done' })
  })

  it('turns a 412 into a conflict with what the other person changed', async () => {
    serve(Response.json(problem412, { status: 412 }), Response.json(theirs))

    const failure = await updateTask(base, { status: 'done' }).catch((error: unknown) => error)

    expect(failure).toBeInstanceOf(EditConflict)
    const conflict = failure as EditConflict
    expect(conflict.current.version).toBe(4)
    expect(conflict.theirChanges).toEqual(['title', 'assignee_id'])
    expect(conflict.mine).toEqual({ status: 'done' })
  })

  it('refreshes an expired access token once and retries', async () => {
    serve(
      Response.json({ ...problem412, status: 401, code: 'token_expired' }, { status: 401 }),
      Response.json({ access_token: 'token-2', token_type: 'bearer', expires_in: 900 }),
      Response.json({ ...base, version: 4 }),
    )

    await updateTask(base, { title: 'x' })

    expect(requests.map((request) => new URL(request.url).pathname)).toEqual(['/api/tasks/7', '/api/auth/refresh', '/api/tasks/7'])
    expect(requests[2]?.headers.get('Authorization')).toBe('Bearer token-2')
    expect(requests[2]?.headers.get('If-Match')).toBe('"3"')
  })
})

describe('changedFields', () => {
  it('lists only the fields a user edits', () => {
    expect(changedFields(base, { ...base, version: 9, updated_at: 'later' })).toEqual([])
    expect(changedFields(base, { ...base, status: 'done', due_date: '2026-02-01T00:00:00Z' })).toEqual(['status', 'due_date'])
  })
})

describe('changesFrom', () => {
  it('keeps only the fields the form changed, the same instant written otherwise included', () => {
    const withDue = { ...base, due_date: '2026-02-01T09:00:00Z' }
    const form = { title: base.title, description: null, status: 'done' as const, assignee_id: null, due_date: '2026-02-01T09:00:00.000Z' }

    expect(changesFrom(withDue, form)).toEqual({ status: 'done' })
  })
})
