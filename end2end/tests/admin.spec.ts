import { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { randomUUID } from 'node:crypto';
import { createOrgViaCli, hydrated, signIn, uniqueEmail } from './helpers';

async function signInAsAdmin(page: Page): Promise<void> {
  await signIn(page, 'admin@tollbooth.local', 'e2e-admin-password');
  await page.waitForURL(/\/admin$|\/o\//);
}

test('the top consumer on the admin dashboard gets a custom token limit its owner then sees', async ({ page, browser }) => {
  const tag = randomUUID().slice(0, 6);
  const heavyEmail = uniqueEmail('heavy');
  const heavy = createOrgViaCli(`Heavy Co ${tag}`, heavyEmail);
  const light = createOrgViaCli(`Light Co ${tag}`, uniqueEmail('light'));
  // Far more tokens than any other test sends, so Heavy Co leads the table.
  for (const [org, tokens] of [[heavy, 9_000_000], [light, 1_000]] as const) {
    const resp = await page.request.post('/api/v1/events', {
      headers: { Authorization: `Bearer ${org.api_key}` },
      data: { events: [{ id: `e-${tag}`, model: 'gpt-4o', input_tokens: tokens, output_tokens: 10, latency_ms: 300 }] },
    });
    expect(resp.status()).toBe(200);
  }

  await signInAsAdmin(page);
  await page.goto('/admin');
  await hydrated(page);
  const top = page.getByTestId('top-by-tokens');
  await expect(top.locator('tbody tr').first()).toContainText(`Heavy Co ${tag}`);
  await expect(top.locator('tbody tr').first()).toContainText('9,000,010');
  await expect(page.getByTestId('tile-orgs')).not.toContainText('–');
  await top.getByRole('link', { name: `Heavy Co ${tag}` }).click();
  await page.waitForURL(/\/admin\/org\?id=/);
  await expect(page.getByRole('heading', { name: `Heavy Co ${tag}` })).toBeVisible();
  await hydrated(page);

  const row = page.getByTestId('overrides').locator('tr[data-limit="tokens-month"]');
  await row.getByLabel('AI credits (tokens) per month override', { exact: true }).fill('123,456');
  await row.getByRole('button', { name: 'Set override' }).click();
  // The confirmation step says what will happen; nothing is saved before Confirm.
  await expect(row.getByTestId('confirm-text')).toContainText(`to 123,456`);
  await expect(row.locator('.override-value')).toHaveText('–');
  await row.getByRole('button', { name: 'Confirm' }).click();
  await expect(row.locator('.override-value')).toContainText('123,456');
  // The change is in the organization's audit trail.
  await expect(page.getByTestId('org-audit')).toContainText('plan.override_set');

  const ownerContext = await browser.newContext();
  const owner = await ownerContext.newPage();
  await signIn(owner, heavyEmail);
  await owner.waitForURL(`**/o/${heavy.org_id}`);
  await expect(owner.getByTestId('limit-tokens-month')).toContainText('123,456');

  // The owner's audit log shows the admin's change, and its CSV carries it.
  await owner.goto(`/o/${heavy.org_id}/audit`);
  await expect(owner.getByTestId('audit-entries')).toContainText('plan.override_set');
  await expect(owner.getByTestId('audit-by-action')).toContainText('plan.override_set');
  const csv = await owner.request.get(`/o/${heavy.org_id}/audit.csv?action=plan.`);
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain('plan.override_set');
  await ownerContext.close();

  // The platform-wide log lists it with the organization.
  await page.goto('/admin/audit?action=plan.override_set');
  await expect(page.getByTestId('audit-entries')).toContainText(heavy.org_id);
});

test('an owner sees the audit report; the audit CSV needs a signed-in owner', async ({ page }) => {
  const email = uniqueEmail('audit-owner');
  const org = createOrgViaCli(`Audit Co ${randomUUID().slice(0, 6)}`, email);
  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await page.goto(`/o/${org.org_id}/audit`);
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  await expect(page.getByTestId('audit-report')).toBeVisible();
  // Someone who is not an owner or admin gets no CSV either.
  const anon = await page.context().browser()!.newContext();
  const resp = await anon.request.get(`http://127.0.0.1:${process.env.E2E_PORT ?? 3100}/o/${org.org_id}/audit.csv`);
  expect(resp.status()).toBe(401);
  await anon.close();
});

test('a suspended organization shows its members the suspended page until it is reactivated', async ({ page, browser }) => {
  const email = uniqueEmail('suspend');
  const name = `Suspend Co ${randomUUID().slice(0, 6)}`;
  const org = createOrgViaCli(name, email);
  await signInAsAdmin(page);
  await page.goto(`/admin/org?id=${org.org_id}`);
  await hydrated(page);
  const status = page.getByTestId('org-status');
  await status.getByLabel('Reason').fill('unpaid invoices');
  await status.getByRole('button', { name: 'Suspend' }).click();
  await expect(status.getByTestId('confirm-text')).toContainText('unpaid invoices');
  await status.getByRole('button', { name: 'Confirm' }).click();
  await expect(status).toContainText('suspended');

  const ownerContext = await browser.newContext();
  const owner = await ownerContext.newPage();
  await signIn(owner, email);
  await owner.waitForURL(`**/o/${org.org_id}`);
  await expect(owner.getByRole('heading', { name: 'This organization is suspended' })).toBeVisible();
  await expect(owner.getByTestId('suspension-reason')).toHaveText('unpaid invoices');

  await status.getByRole('button', { name: 'Reactivate' }).click();
  await status.getByRole('button', { name: 'Confirm' }).click();
  await expect(status).toContainText('active');
  await owner.reload();
  await expect(owner.getByTestId('limit-tokens-month')).toBeVisible();
  await ownerContext.close();
});

test('the drill-down shows the organization its own usage panel, and a range change stays on the drill-down', async ({ page, browser }) => {
  const tag = randomUUID().slice(0, 6);
  const email = uniqueEmail('panel');
  const org = createOrgViaCli(`Panel Co ${tag}`, email);
  const resp = await page.request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${org.api_key}` },
    data: { events: [{ id: `p-${tag}`, model: 'gpt-4o', input_tokens: 1234, output_tokens: 56, latency_ms: 200 }] },
  });
  expect(resp.status()).toBe(200);

  // What the owner sees on the organization's own page.
  const ownerContext = await browser.newContext();
  const owner = await ownerContext.newPage();
  await signIn(owner, email);
  await owner.waitForURL(`**/o/${org.org_id}`);
  const ownerCost = (await owner.getByTestId('Cost this month').locator('.value').textContent()) ?? '';
  expect(ownerCost).toMatch(/^\$\d/);
  await ownerContext.close();

  await signInAsAdmin(page);
  await page.goto(`/admin/org?id=${org.org_id}`);
  await hydrated(page);
  const usage = page.getByTestId('org-usage');
  await expect(usage.getByTestId('Cost this month').locator('.value')).toHaveText(ownerCost);
  await expect(usage.getByTestId('Tokens in')).toContainText('1,234');
  await expect(usage.getByTestId('limit-tokens-month')).toContainText('1,290 / 100,000 per month');
  await expect(usage.getByTestId('range-events')).toHaveText('1');
  await expect(usage.getByTestId('chart-daily-cost').locator('canvas')).toHaveCount(1);
  // Read-only: no member download or upgrade links.
  await expect(usage.getByRole('link', { name: 'Download this range (CSV)' })).toHaveCount(0);
  await expect(usage.getByRole('link', { name: 'Compare plans' })).toHaveCount(0);
  await expect(page.getByTestId('org-retention')).toHaveText('13 months');

  await usage.getByRole('link', { name: 'Last 7 days' }).click();
  await page.waitForURL(`**/admin/org?id=${org.org_id}&range=7d`);
  await expect(usage.getByRole('link', { name: 'Last 7 days' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByRole('heading', { name: `Panel Co ${tag}` })).toBeVisible();
  await expect(usage.getByTestId('range-events')).toHaveText('1');
});
