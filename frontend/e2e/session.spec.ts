import { expect, test } from '@playwright/test'
import { createTask, registerUser, uniqueName } from './helpers'

test('two tabs refresh their tokens at once: both stay signed in', async ({ browser }) => {
  const context = await browser.newContext()
  const first = await context.newPage()
  await registerUser(first, uniqueName('tabs'))
  const second = await context.newPage()
  await second.goto('/')
  await expect(second.getByRole('heading', { name: 'Board' })).toBeVisible()

  // A reload starts from the refresh cookie alone (the access token lives in memory): both tabs
  // rotate the one cookie at the same moment, several times over.
  for (let round = 0; round < 3; round += 1) {
    const refreshes = Promise.all([first, second].map((page) => page.waitForResponse('**/api/auth/refresh')))
    await Promise.all([first.reload(), second.reload()])
    const answers = await refreshes
    expect(answers.map((answer) => answer.status())).toEqual([200, 200])
    await expect(first.getByRole('heading', { name: 'Board' })).toBeVisible()
    await expect(second.getByRole('heading', { name: 'Board' })).toBeVisible()
  }
  await createTask(first, uniqueName('Still signed in '))
  await createTask(second, uniqueName('Also signed in '))
  await context.close()
})

test('the refresh token is an HttpOnly cookie page scripts cannot read', async ({ page, context }) => {
  await registerUser(page, uniqueName('cookie'))

  const cookies = await context.cookies()
  const refresh = cookies.find((cookie) => cookie.name === 'refresh_token')
  expect(refresh?.httpOnly).toBe(true)
  expect(refresh?.sameSite).toBe('Strict')
  expect(refresh?.path).toBe('/api/auth')
  expect(await page.evaluate(() => document.cookie)).toBe('')
})
