import { describe, expect, it } from 'vitest'
import { parseRetryAfter, toApiError } from './problem'

const validation = {
  type: 'tag:efficient-system,2026:problems/validation_error',
  title: 'Invalid request',
  status: 422,
  detail: 'password: too short',
  code: 'validation_error',
  message: 'password: too short',
  errors: [
    { field: 'password', location: 'body', message: 'String should have at least 8 characters', type: 'string_too_short' },
    { field: 'email', location: 'body', message: 'value is not a valid email address', type: 'value_error' },
  ],
}

describe('ApiError', () => {
  it('maps the problem errors to messages per field', () => {
    const error = toApiError(new Response(null, { status: 422 }), validation)

    expect(error.status).toBe(422)
    expect(error.code).toBe('validation_error')
    expect(error.fieldErrors()).toEqual({
      password: 'String should have at least 8 characters',
      email: 'value is not a valid email address',
    })
  })

  it('reads how long to wait from a 429', () => {
    const response = new Response(null, { status: 429, headers: { 'Retry-After': '12' } })

    const error = toApiError(response, { ...validation, status: 429, code: 'too_many_attempts', errors: null })

    expect(error.retryAfterSeconds).toBe(12)
    expect(error.fieldErrors()).toEqual({})
  })

  it('keeps an answer that is no problem as a status alone', () => {
    const error = toApiError(new Response(null, { status: 502 }), '<html>')

    expect(error.problem).toBeNull()
    expect(error.message).toContain('502')
  })
})

describe('parseRetryAfter', () => {
  it('takes seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('30', now)).toBe(30)
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60)
    expect(parseRetryAfter(null, now)).toBeNull()
    expect(parseRetryAfter('soon', now)).toBeNull()
  })
})
