// Sign-in, registration, sign-out and the users, through the auth API in cookie mode.
import type { components } from '@/api/auth'
import { authApi, expectOk, unwrap } from './http'
import { COOKIE_MODE, maySignInSilently, refreshAccessToken, setAccessToken } from './session'

export type User = components['schemas']['UserRead']
export type UserSummary = components['schemas']['UserSummary']
export type Registration = components['schemas']['UserCreate']

export async function signIn(username: string, password: string): Promise<User> {
  const tokens = await unwrap(
    authApi.POST('/auth/login', { body: { username, password }, headers: COOKIE_MODE }),
  )
  setAccessToken(tokens.access_token)
  return currentUser()
}

export async function register(data: Registration): Promise<User> {
  await unwrap(authApi.POST('/auth/register', { body: data }))
  return signIn(data.username, data.password)
}

/** The signed-in user, or null when there is no session (no or a revoked cookie). */
export async function resumeSession(): Promise<User | null> {
  if (!maySignInSilently()) return null
  const token = await refreshAccessToken()
  return token ? currentUser() : null
}

export function currentUser(): Promise<User> {
  return unwrap(authApi.GET('/auth/me'))
}

/** Revoke the session on the server (and its cookie), then forget the access token. */
export async function signOut(): Promise<void> {
  try {
    await expectOk(authApi.POST('/auth/logout', { headers: COOKIE_MODE }))
  } finally {
    setAccessToken(null)
  }
}

export interface UserPage {
  items: UserSummary[]
  nextCursor: string | null
}

export async function listUsers(cursor: string | null = null): Promise<UserPage> {
  const page = await unwrap(
    authApi.GET('/auth/users', { params: { query: { page_size: 200, cursor: cursor ?? undefined } } }),
  )
  return { items: page.items, nextCursor: page.next_cursor }
}
