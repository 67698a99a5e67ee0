import AxeBuilder from '@axe-core/playwright'
import { expect, type Page } from '@playwright/test'

export const PASSWORD = 'correct-horse-battery'

export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`
}

export async function registerUser(page: Page, username: string): Promise<void> {
  await page.goto('/register')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Email').fill(`${username}@example.com`)
  await page.getByLabel(/^Password/).fill(PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByRole('heading', { name: 'Board' })).toBeVisible()
}

export async function signIn(page: Page, username: string, password: string = PASSWORD): Promise<void> {
  await page.goto('/signin')
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('heading', { name: 'Board' })).toBeVisible()
}

/** Create a task from the board's form; the card it makes. */
export async function createTask(page: Page, title: string) {
  await page.getByLabel('Title').first().fill(title)
  await page.getByRole('button', { name: 'Create task' }).click()
  const card = page.locator('.task-card', { hasText: title })
  await expect(card).toBeVisible()
  return card
}

export function column(page: Page, status: 'todo' | 'in_progress' | 'done') {
  return page.locator(`section.column[data-status="${status}"]`)
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze()
  const grave = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(grave.map((v) => `${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([])
}
