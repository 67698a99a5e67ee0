import { describe, expect, it, vi } from 'vitest'
import type { LockManagerLike } from './session'

/** The auth service's rotation as the browser sees it: one cookie jar for every tab; a refresh
 * answers after a few turns of the event loop; a rotated token presented again ends the session. */
function fakeAuth() {
  let cookie = 'r0'
  let counter = 0
  const used = new Set<string>()
  let revoked = false
  const fetch = async (): Promise<Response> => {
    const presented = cookie
    for (let turn = 0; turn < 5; turn += 1) await Promise.resolve()
    if (revoked || used.has(presented)) {
      revoked = true
      return new Response(JSON.stringify({ status: 401, code: 'invalid_refresh_token' }), { status: 401 })
    }
    used.add(presented)
    counter += 1
    cookie = `r${counter}`
    return Response.json({ access_token: `a${counter}`, token_type: 'bearer', expires_in: 900 })
  }
  return { fetch, calls: () => counter, revoked: () => revoked }
}

/** navigator.locks for tabs of one origin: callbacks under one name run one after another. */
function fakeLocks(): LockManagerLike {
  const tails = new Map<string, Promise<unknown>>()
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const run = (tails.get(name) ?? Promise.resolve()).then(callback, callback)
      tails.set(name, run.catch(() => undefined))
      return run
    },
  }
}

/** A tab: its own copy of the session module (its own memory), as a second page has. */
async function openTab() {
  vi.resetModules()
  return import('./session')
}

describe('refreshAccessToken', () => {
  it('two tabs refreshing at once both stay signed in, one after the other under the lock', async () => {
    const auth = fakeAuth()
    const locks = fakeLocks()
    const [first, second] = [await openTab(), await openTab()]

    const tokens = await Promise.all([
      first.refreshAccessToken({ fetch: auth.fetch, locks }),
      second.refreshAccessToken({ fetch: auth.fetch, locks }),
    ])

    expect(tokens).toEqual(['a1', 'a2'])
    expect(auth.revoked()).toBe(false)
    expect(first.currentAccessToken()).toBe('a1')
    expect(second.currentAccessToken()).toBe('a2')
  })

  it('without the lock the same race ends the session (what the lock prevents)', async () => {
    const auth = fakeAuth()
    const [first, second] = [await openTab(), await openTab()]

    const tokens = await Promise.all([
      first.refreshAccessToken({ fetch: auth.fetch, locks: null }),
      second.refreshAccessToken({ fetch: auth.fetch, locks: null }),
    ])

    expect(tokens).toContain(null)
    expect(auth.revoked()).toBe(true)
  })

  it('callers in one tab share one refresh', async () => {
    const auth = fakeAuth()
    const tab = await openTab()

    const tokens = await Promise.all([
      tab.refreshAccessToken({ fetch: auth.fetch, locks: null }),
      tab.refreshAccessToken({ fetch: auth.fetch, locks: null }),
    ])

    expect(tokens).toEqual(['a1', 'a1'])
    expect(auth.calls()).toBe(1)
  })

  it('asks for cookie delivery and tells listeners when the session is over', async () => {
    const tab = await openTab()
    const seen: (string | null)[] = []
    tab.onAccessToken((token) => seen.push(token))
    const fetch = vi.fn(async () => new Response('{}', { status: 401 }))

    const token = await tab.refreshAccessToken({ fetch, locks: null, baseUrl: 'http://app.test/api' })

    expect(token).toBeNull()
    expect(seen).toEqual([null])
    expect(fetch).toHaveBeenCalledWith('http://app.test/api/auth/refresh', expect.objectContaining({
      method: 'POST', headers: { 'X-Token-Delivery': 'cookie' },
    }))
  })
})
