import { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { randomUUID } from 'node:crypto';
import { createOrgViaCli, hydrated, signIn, uniqueEmail } from './helpers';

/** Saves a full-page screenshot when E2E_SCREENSHOTS names a directory (for reviewing the UI). */
async function shot(page: Page, name: string): Promise<void> {
  const dir = process.env.E2E_SCREENSHOTS;
  if (dir) await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

test('a budget past 80% rings the bell, shows the banner, is acknowledged, and its mail waits in the outbox', async ({ page }) => {
  test.setTimeout(90_000);
  const consoleErrors: string[] = [];
  // The refused settings form below answers 422 on purpose; the browser logs that as a failed load.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('status of 422')) consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  const email = uniqueEmail('alerts');
  const name = `Alerts Co ${randomUUID().slice(0, 6)}`;
  const org = createOrgViaCli(name, email);
  const auth = { Authorization: `Bearer ${org.api_key}` };

  // The owner sets a $1.00 organization budget on the Budgets page
  // (thresholds 50%, 80%, 100% by default).
  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Budgets', exact: true }).click();
  await page.waitForURL(`**/o/${org.org_id}/budgets`);
  await hydrated(page);
  const create = page.getByTestId('budget-create');
  await create.getByLabel('Name').fill('Org monthly');
  await create.getByLabel('Amount (USD)').fill('1.00');
  await create.getByRole('button', { name: 'Create budget' }).click();
  await expect(create.getByRole('status')).toContainText('Budget Org monthly created.');

  // Then $0.85 of usage through the API: gpt-4o in the shipped catalog costs
  // $10/M output tokens, so 85,000 are $0.85.
  const ingest = await page.request.post('/api/v1/events', {
    headers: auth,
    data: { events: [{ id: 'spend-1', model: 'gpt-4o', output_tokens: 85000 }] },
  });
  expect(ingest.status()).toBe(200);
  expect((await ingest.json()).results[0].cost_usd).toBe('0.850000000');

  await page.goto(`/o/${org.org_id}`);
  await hydrated(page);

  // The bell counts the 50% and 80% alerts; the banner names the budget.
  const bell = page.getByTestId('alerts-bell');
  await expect(bell).toHaveAttribute('aria-label', 'Alerts (2 unread)');
  await expect(page.getByTestId('alerts-unread')).toHaveText('2');
  const banner = page.getByTestId('budget-banner');
  await expect(banner).toContainText('Budget \u201cOrg monthly\u201d is at 85.00% ($0.85 of $1.00) this period');
  await expect(banner).not.toHaveClass(/danger/);
  await expect(banner.getByRole('link', { name: 'View budgets' })).toHaveAttribute('href', `/o/${org.org_id}/budgets`);
  await shot(page, 'banner');

  await bell.click();
  await page.waitForURL(`**/o/${org.org_id}/alerts`);
  const items = page.getByTestId('alert');
  await expect(items).toHaveCount(2);
  const at80 = items.filter({ hasText: '80% of $1.00' });
  await expect(at80).toContainText('Budget threshold');
  await expect(at80).toContainText('reached 80%: $0.85 of $1.00 spent (85.00%)');
  await expect(at80).toContainText('$0.85 (85.00%)');
  await expect(at80).toContainText('Organization');
  await shot(page, 'alerts');

  // Acknowledging one: it says who, and the bell drops to 1.
  await at80.getByRole('button', { name: 'Acknowledge' }).click();
  await expect(at80).toContainText(`Acknowledged by ${email}`);
  await expect(at80.getByRole('button', { name: 'Acknowledge' })).toHaveCount(0);
  await expect(bell).toHaveAttribute('aria-label', 'Alerts (1 unread)');
  await expect(page.getByTestId('alerts-unread')).toHaveText('1');

  // Only the open one when asked; the banner is still there (the budget is still at 85%).
  await page.getByRole('link', { name: 'Unacknowledged only' }).click();
  await page.waitForURL(`**/o/${org.org_id}/alerts?show=unacknowledged`);
  await expect(items).toHaveCount(1);
  await expect(items).toContainText('50% of $1.00');
  await expect(banner).toBeVisible();

  // Settings: a refusal names the field as the form does; a webhook's secret is shown once.
  await page.getByRole('link', { name: 'Alert settings' }).click();
  await page.waitForURL(`**/o/${org.org_id}/alerts/settings`);
  const form = page.getByTestId('alert-settings');
  const threshold = form.getByLabel('Spike threshold');
  await expect(threshold).toHaveValue('200');
  await threshold.fill('50');
  await form.getByRole('button', { name: 'Save alert settings' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Spike threshold: must be between 101 and 100000' })).toBeVisible();
  await threshold.fill('300');
  await form.getByLabel('Extra addresses').fill('oncall@example.com');
  await form.getByRole('button', { name: 'Save alert settings' }).click();
  await expect(page.getByText('Alert settings saved.')).toBeVisible();
  await page.getByLabel('Endpoint URL').fill('https://hooks.example.com/tollbooth');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId('webhook-secret')).toHaveText(/^whsec_[0-9a-f]{48}$/);
  await expect(page.getByText('It will not be shown again.')).toBeVisible();
  await expect(page.getByTestId('webhook-endpoints')).toContainText('https://hooks.example.com/tollbooth');
  await shot(page, 'settings');
  await page.reload();
  await hydrated(page);
  await expect(form.getByLabel('Spike threshold')).toHaveValue('300');
  await expect(form.getByLabel('Extra addresses')).toHaveValue('oncall@example.com');
  await expect(page.getByTestId('webhook-secret')).toHaveCount(0);

  expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);

  // No SMTP in the e2e server: the owner's mail is held in the outbox for platform admins.
  await page.context().clearCookies();
  await signIn(page, 'admin@tollbooth.local', 'e2e-admin-password');
  await page.waitForURL(/\/admin$|\/o\//);
  await page.goto('/admin');
  await hydrated(page);
  await page.getByRole('link', { name: 'Mail outbox' }).click();
  await page.waitForURL('**/admin/outbox');
  const mails = page.getByTestId('outbox').locator('tbody tr', { hasText: name });
  await expect(async () => {
    await page.reload();
    // The two budget alerts to the owner, and the confirmation asked of the
    // extra address (which gets no alert mail until it confirms).
    await expect(mails.filter({ hasText: 'held' })).toHaveCount(3, { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  const alertMails = mails.filter({ hasText: 'Budget threshold' });
  await expect(alertMails).toHaveCount(2);
  await expect(alertMails.first()).toContainText(email);
  await expect(alertMails.first()).toContainText(`[Tollbooth] ${name}: Budget threshold`);
  await expect(mails.filter({ hasText: `[Tollbooth] Confirm alert mail from ${name}` })).toContainText('oncall@example.com');
  await alertMails.first().locator('summary').click();
  await expect(alertMails.first().locator('.mail-body')).toContainText(`Organization: ${name}`);
  await shot(page, 'outbox');
});
