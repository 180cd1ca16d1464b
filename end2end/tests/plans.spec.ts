import { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { randomUUID } from 'node:crypto';
import { createOrgViaCli, hydrated, signIn, uniqueEmail } from './helpers';

async function signInAs(page: Page, email: string, orgId: string): Promise<void> {
  await signIn(page, email);
  await page.waitForURL(`**/o/${orgId}`);
}

test('at the monthly token limit the panel shows the banner and reservations are refused', async ({ page }) => {
  const email = uniqueEmail('limits');
  const org = createOrgViaCli('Limits Co', email); // Starter: 100,000 tokens per month, hard
  const auth = { Authorization: `Bearer ${org.api_key}` };
  const ingest = await page.request.post('/api/v1/events', {
    headers: auth,
    data: { events: [{ id: 'big', model: 'gpt-4o', input_tokens: 60000, output_tokens: 40000, timestamp: new Date().toISOString() }] },
  });
  expect(ingest.status()).toBe(200);

  await signInAs(page, email, org.org_id);
  const banner = page.getByTestId('limit-banner');
  await expect(banner).toBeVisible();
  await expect(banner).toHaveAttribute('role', 'alert');
  await expect(banner).toContainText('AI credits (tokens) limit: 100,000 of 100,000 per month');
  await expect(banner).toContainText('It resets on');
  await expect(banner.getByRole('link', { name: 'Upgrade' })).toHaveAttribute('href', `/o/${org.org_id}/billing`);
  const tokens = page.getByTestId('limit-tokens-month');
  await expect(tokens).toContainText('100,000 / 100,000 per month');
  await expect(tokens).toHaveClass(/warning/);
  await expect(page.getByTestId('plan-name')).toHaveText('Starter');
  // Limits not reached carry no warning.
  await expect(page.getByTestId('limit-projects-total')).toContainText('0 / 3');
  await expect(page.getByTestId('limit-projects-total')).not.toHaveClass(/warning/);

  const resp = await page.request.post('/api/v1/reservations', { headers: auth, data: { checks: [{ metric: 'tokens', amount: 1 }] } });
  expect(resp.status()).toBe(429);
  const body = await resp.json();
  expect(body.allowed).toBe(false);
  expect(body.reason).toContain('AI credits (tokens) limit of 100,000 per month reached');
  expect(body.upgrade_url).toMatch(new RegExp(`/o/${org.org_id}/billing$`));
  expect(Number(resp.headers()['retry-after'])).toBeGreaterThan(0);

  // The Upgrade button leads to the billing page.
  await hydrated(page);
  await banner.getByRole('link', { name: 'Upgrade' }).click();
  await page.waitForURL(`**/o/${org.org_id}/billing`);
});

test('the Plans page compares the public plans and marks the current one', async ({ page }) => {
  const email = uniqueEmail('plans');
  const org = createOrgViaCli('Plans Co', email);
  await signInAs(page, email, org.org_id);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Plans', exact: true }).click();
  await page.waitForURL(`**/o/${org.org_id}/plans`);
  const table = page.getByTestId('plans');
  await expect(table.locator('thead th[data-plan]')).toHaveCount(4);
  for (const [code, name] of [['starter', 'Starter'], ['pro', 'Pro'], ['team', 'Team'], ['enterprise', 'Enterprise']]) {
    await expect(table.locator(`thead th[data-plan="${code}"]`)).toContainText(name);
  }
  await expect(table.locator('th[data-plan="starter"]')).toContainText('Current plan');
  await expect(table.getByText('Current plan')).toHaveCount(1);
  const row = (label: string) => table.locator('tbody tr', { has: page.getByRole('rowheader', { name: label, exact: true }) });
  await expect(row('Price').locator('td')).toHaveText(['Free', '$29/month', '$99/month', '$299/month']);
  await expect(row('Projects').locator('td')).toHaveText(['3', '15', '50', 'Unlimited']);
  await expect(row('AI credits (tokens per month)').locator('td').first()).toHaveText('100,000');
  await expect(row('AI credits (tokens per month)').locator('td').nth(1)).toHaveText('1,000,000, then $2.00 per 1M tokens');
  await expect(row('Members').locator('td')).toHaveText(['1', '5', '25', 'Unlimited']);
  await expect(row('Requests per minute').locator('td').first()).toHaveText('60');
});

test('a platform admin overrides a limit and the organization sees it', async ({ page, browser }) => {
  const email = uniqueEmail('override');
  const name = `Override Co ${randomUUID().slice(0, 6)}`;
  const org = createOrgViaCli(name, email);

  await signIn(page, 'admin@tollbooth.local', 'e2e-admin-password');
  await page.waitForURL(/\/admin$|\/o\//);
  await page.goto('/admin');
  await hydrated(page);
  await expect(page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Plans' })).toBeVisible();
  await page.getByRole('link', { name, exact: true }).click();
  await page.waitForURL(/\/admin\/org\?id=/);
  await expect(page.getByRole('heading', { name })).toBeVisible();
  await expect(page.getByTestId('org-plan')).toHaveText('Starter');
  await hydrated(page);

  const row = page.getByTestId('overrides').locator('tr[data-limit="tokens-month"]');
  await expect(row.locator('.plan-value')).toHaveText('100,000');
  await expect(row.locator('.override-value')).toHaveText('–');
  await row.getByLabel('AI credits (tokens) per month override', { exact: true }).fill('250,000');
  await row.getByRole('button', { name: 'Set override' }).click();
  await row.getByRole('button', { name: 'Confirm' }).click();
  await expect(row.locator('.override-value')).toContainText('250,000');
  await expect(row.locator('.plan-value')).toHaveText('100,000');

  // An empty value overrides to unlimited.
  const members = page.getByTestId('overrides').locator('tr[data-limit="members-total"]');
  await members.getByLabel('Members override', { exact: true }).fill('');
  await members.getByRole('button', { name: 'Set override' }).click();
  await expect(members.getByTestId('confirm-text')).toContainText('to unlimited');
  await members.getByRole('button', { name: 'Confirm' }).click();
  await expect(members.locator('.override-value')).toContainText('Unlimited');
  await members.getByRole('button', { name: 'Clear' }).click();
  await members.getByRole('button', { name: 'Confirm' }).click();
  await expect(members.locator('.override-value')).toHaveText('–');

  // The owner's usage panel shows the custom limit.
  const ownerContext = await browser.newContext();
  const owner = await ownerContext.newPage();
  await signInAs(owner, email, org.org_id);
  const tokens = owner.getByTestId('limit-tokens-month');
  await expect(tokens).toContainText('0 / 250,000 per month');
  await expect(tokens).toContainText('(custom)');
  await ownerContext.close();
});

test('projects can be created up to the plan limit; the next one is refused with a way to upgrade', async ({ page }) => {
  const email = uniqueEmail('projects');
  const org = createOrgViaCli('Projects Co', email);
  await signInAs(page, email, org.org_id);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects', exact: true }).click();
  await page.waitForURL(`**/o/${org.org_id}/projects`);
  await hydrated(page);

  for (const name of ['Support Bot', 'Search', 'Writer']) {
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByRole('button', { name: 'Create project' }).click();
    await expect(page.getByRole('status')).toContainText(`Project ${name} created`);
  }
  await expect(page.getByTestId('projects').locator('tbody tr')).toHaveCount(3);
  await expect(page.getByTestId('projects').locator('tr', { hasText: 'Support Bot' })).toContainText('support-bot');

  await page.getByLabel('Name', { exact: true }).fill('One Too Many');
  await page.getByRole('button', { name: 'Create project' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('Projects limit of 3 reached');
  await expect(alert.getByRole('link', { name: 'Upgrade your plan' })).toHaveAttribute('href', `/o/${org.org_id}/billing`);
  await expect(page.getByTestId('projects').locator('tbody tr')).toHaveCount(3);

  // Archiving one makes room.
  await page.getByTestId('projects').locator('tr', { hasText: 'Writer' }).getByRole('button', { name: 'Archive' }).click();
  await expect(page.getByTestId('projects').locator('tr', { hasText: 'Writer' })).toContainText('archived');
  await page.getByLabel('Name', { exact: true }).fill('One Too Many');
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByRole('status')).toContainText('Project One Too Many created');
});

test('the demo organization says it is in demo mode on every page', async ({ page }) => {
  await signIn(page, 'demo@tollbooth.local', 'e2e-demo-password');
  await page.waitForURL(/\/o\//);
  const orgId = page.url().split('/o/')[1].split(/[/?]/)[0];
  await expect(page.getByTestId('demo-banner')).toHaveText('Demo mode: unlimited access, usage is tracked');
  await page.goto(`/o/${orgId}/keys`);
  await expect(page.getByTestId('demo-banner')).toBeVisible();
  await expect(page.getByTestId('limit-banner')).toHaveCount(0);
});

test('an API key can carry its own rate limit', async ({ page }) => {
  const email = uniqueEmail('ratelimit');
  const org = createOrgViaCli('Rate Co', email);
  await signInAs(page, email, org.org_id);
  await page.goto(`/o/${org.org_id}/keys`);
  await hydrated(page);
  await page.getByLabel('Name', { exact: true }).fill('throttled');
  await page.getByLabel('Rate limit (requests per minute)').fill('0');
  await page.getByRole('button', { name: 'Create key' }).click();
  await expect(page.getByRole('alert')).toContainText('between 1 and 1,000,000');

  await page.getByLabel('Rate limit (requests per minute)').fill('2');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-key').textContent())!.trim();
  await expect(page.locator('tr', { hasText: 'throttled' })).toContainText('2 / minute');
  await expect(page.locator('tr', { hasText: 'default' })).toContainText("plan's");

  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await page.request.post('/api/v1/quota/check', {
      headers: { Authorization: `Bearer ${secret}` },
      data: { checks: [{ metric: 'tokens', amount: 1 }] },
    });
    statuses.push(r.status());
  }
  expect(statuses.slice(0, 2)).toEqual([200, 200]);
  expect(statuses).toContain(429);
});

test('a platform admin creates, edits, archives and deletes a plan', async ({ page }) => {
  const code = `growth-${randomUUID().slice(0, 6)}`;
  await signIn(page, 'admin@tollbooth.local', 'e2e-admin-password');
  await page.waitForURL(/\/admin$|\/o\//);
  await page.goto('/admin/plans');
  await hydrated(page);
  await expect(page.getByTestId('admin-plans').locator('tr', { hasText: 'starter' })).toContainText('Free');

  await page.getByLabel('Code').fill(code);
  await page.getByLabel('Name', { exact: true }).fill('Growth');
  await page.getByLabel('Price (USD per month)').fill('49');
  await page.getByRole('button', { name: 'Create plan' }).click();
  await page.waitForURL(`**/admin/plans/${code}`);
  await expect(page.getByRole('heading', { name: `Growth ${code}` })).toBeVisible();
  await hydrated(page);

  const tokens = page.getByTestId('limits-editor').locator('tr[data-limit="tokens-month"]');
  await tokens.getByLabel('AI credits (tokens) per month', { exact: true }).fill('2,000,000');
  await tokens.getByLabel('Hard or soft').selectOption('false');
  await tokens.getByLabel('AI credits (tokens) per month overage', { exact: true }).fill('0.000002');
  await expect(page.getByLabel('Retention (months)')).toHaveValue('13');
  await page.getByLabel('Retention (months)').fill('24');
  await page.getByRole('button', { name: 'Save plan' }).click();
  await expect(page.getByRole('status')).toHaveText('Plan saved.');
  await page.reload();
  await expect(tokens.getByLabel('AI credits (tokens) per month', { exact: true })).toHaveValue('2000000');
  await expect(tokens.getByLabel('Hard or soft')).toHaveValue('false');
  await expect(page.getByLabel('Retention (months)')).toHaveValue('24');

  // A soft limit's overage shows on the catalog.
  await page.goto('/admin/plans');
  const row = page.getByTestId('admin-plans').locator('tr', { hasText: code });
  await expect(row).toContainText('$49/month');
  await expect(row).toContainText('AI credits (tokens) per month: 2,000,000, then $2.00 per 1M tokens');
  await expect(row).toContainText('24 months');

  await row.getByRole('link', { name: 'Growth' }).click();
  await page.waitForURL(`**/admin/plans/${code}`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Archive plan' }).click();
  await expect(page.getByRole('button', { name: 'Restore plan' })).toBeVisible();
  await page.getByRole('button', { name: 'Delete plan' }).click();
  await page.waitForURL(/\/admin\/plans$/);
  await expect(page.getByTestId('admin-plans').locator('tr', { hasText: code })).toHaveCount(0);

  // A plan organizations are on cannot be deleted: the conflict is shown.
  createOrgViaCli('Pro Customer', uniqueEmail('pro'), 'pro');
  await page.goto('/admin/plans/pro');
  await hydrated(page);
  await page.getByRole('button', { name: 'Delete plan' }).click();
  await expect(page.getByRole('alert')).toContainText('organization(s) are on the Pro plan');
});
