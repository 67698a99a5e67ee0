// The signed-in session: the access token in memory only; the refresh token in an HttpOnly
// cookie that auth sets (X-Token-Delivery: cookie) and page scripts never see.
//
// Two tabs share the cookie. Each refresh rotates it, and presenting a rotated one revokes the
// session, so two tabs refreshing at once would sign both out: every refresh runs under one
// Web Lock shared by all tabs of the origin, so the second tab refreshes after the first, with
// the cookie the first one received. Within a tab, concurrent callers share one refresh.
import { BASE_URL } from './base'
import { toApiError } from './problem'

export const COOKIE_MODE = { 'X-Token-Delivery': 'cookie' } as const
const LOCK_NAME = 'efficient-system-refresh'

export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>
}

export interface TokenAnswer {
  access_token: string
  expires_in: number
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>

let accessToken: string | null = null
let pending: Promise<string | null> | null = null
const listeners = new Set<(token: string | null) => void>()

export function currentAccessToken(): string | null {
  return accessToken
}

// Not a secret, only whether this browser was signed in: without it a first visit does not
// ask auth for a session it cannot have (a 401 in the console of every signed-out page).
const HINT = 'efficient-system-signed-in'

function storage(): Storage | null {
  return typeof localStorage === 'undefined' ? null : localStorage
}

/** Whether this browser may hold a session cookie (signed in, and not signed out since). */
export function maySignInSilently(): boolean {
  return storage()?.getItem(HINT) !== null || storage() === null
}

export function setAccessToken(token: string | null): void {
  accessToken = token
  if (token) storage()?.setItem(HINT, '1')
  else storage()?.removeItem(HINT)
  for (const listener of listeners) listener(token)
}

/** Be told when the token changes (null: signed out). */
export function onAccessToken(listener: (token: string | null) => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

function defaultLocks(): LockManagerLike | null {
  return typeof navigator !== 'undefined' && 'locks' in navigator ? navigator.locks : null
}

export interface RefreshOptions {
  fetch?: Fetch
  locks?: LockManagerLike | null
  baseUrl?: string
}

async function postRefresh(fetcher: Fetch, baseUrl: string): Promise<string | null> {
  const response = await fetcher(`${baseUrl}/auth/refresh`, {
    method: 'POST',
    headers: COOKIE_MODE,
    credentials: 'same-origin',
  })
  if (response.status === 401) return null
  const body: unknown = await response.json().catch(() => null)
  if (!response.ok) throw toApiError(response, body)
  return (body as TokenAnswer).access_token
}

/** A new access token from the refresh cookie, or null when the session is over. */
export function refreshAccessToken(options: RefreshOptions = {}): Promise<string | null> {
  if (pending) return pending
  const fetcher = options.fetch ?? ((input, init) => fetch(input, init))
  const locks = options.locks === undefined ? defaultLocks() : options.locks
  const baseUrl = options.baseUrl ?? BASE_URL
  const run = () => postRefresh(fetcher, baseUrl)
  pending = (locks ? locks.request(LOCK_NAME, run) : run())
    .then((token) => {
      setAccessToken(token)
      return token
    })
    .finally(() => {
      pending = null
    })
  return pending
}
