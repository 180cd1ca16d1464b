import { expect, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';

export const PASSWORD = 'correct-horse-battery';

/** A fresh e-mail address for one test. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}@example.com`;
}

/** Waits until the wasm bundle has hydrated the page. */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator('html[data-hydrated="true"]')).toHaveCount(1, { timeout: 20_000 });
}

/** Signs up through the UI and returns the new organization's id. */
export async function signUp(page: Page, email: string, org: string): Promise<string> {
  await page.goto('/signup');
  await hydrated(page);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Organization name').fill(org);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/\/o\/[0-9a-f-]{36}$/);
  // The app page is a fresh load: wait until it is interactive before clicking.
  await hydrated(page);
  return page.url().split('/o/')[1];
}

/** Signs in through the UI. */
export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export interface CreatedOrg {
  org_id: string;
  org_name: string;
  owner_email: string;
  owner_password: string | null;
  api_key_id: string;
  api_key: string;
}

function cli(args: string[]): Buffer {
  return execFileSync(process.env.E2E_BIN!, args, {
    env: { ...process.env, DATABASE_URL: process.env.E2E_DATABASE_URL, RUST_LOG: 'error' },
  });
}

/** Bootstraps an organization with the CLI against the server's database,
 *  on Starter (like a signup) unless `plan` names another plan. */
export function createOrgViaCli(name: string, ownerEmail: string, plan?: string): CreatedOrg {
  const args = ['create-org', '--name', name, '--owner-email', ownerEmail, '--owner-password', PASSWORD, '--json'];
  if (plan) args.push('--plan', plan);
  return JSON.parse(cli(args).toString());
}

/** Moves an organization to another plan with the CLI. */
export function setPlanViaCli(orgId: string, plan: string): void {
  cli(['set-plan', '--org', orgId, '--plan', plan]);
}

/** Runs the trials' part of the billing task as if the time were `at`
 *  (the simulated clock of `tollbooth trials-run-due`). */
export function runTrialsAt(at: Date): string {
  return cli(['trials-run-due', '--at', at.toISOString()]).toString();
}
