import { expect, test } from '@playwright/test';
import { createOrgViaCli, signIn, uniqueEmail } from './helpers';

test('events sent to the API show up priced on the usage panel', async ({ page }) => {
  const email = uniqueEmail('usage');
  const org = createOrgViaCli('Usage Co', email);
  const auth = { Authorization: `Bearer ${org.api_key}` };
  // gpt-4o in the shipped catalog: $2.50/M input, $1.25/M cached input, $10/M output.
  const call = { model: 'gpt-4o', provider: 'openai', input_tokens: 1000, cached_input_tokens: 400, output_tokens: 200, latency_ms: 850 };
  const resp = await page.request.post('/api/v1/events', {
    headers: auth,
    data: { events: [{ ...call, id: 'c1' }, { ...call, id: 'c2' }, { id: 'u1', model: 'in-house-llm', input_tokens: 50 }] },
  });
  expect(resp.status()).toBe(200);
  const body = await resp.json();
  expect(body.results.map((r: { cost_usd: string | null }) => r.cost_usd)).toEqual(['0.004000000', '0.004000000', null]);

  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await expect(page.getByTestId('Cost this month')).toContainText('$0.0080');
  await expect(page.getByTestId('Cost this month')).toContainText('excludes 1 unpriced events');
  await expect(page.getByTestId('Tokens in')).toContainText('2,050');
  await expect(page.getByTestId('Tokens in')).toContainText('800 cached');
  await expect(page.getByTestId('Tokens out')).toContainText('400');
  const gpt = page.getByTestId('by-model').locator('tr', { hasText: 'gpt-4o' });
  await expect(gpt).toContainText('$0.0080');
  await expect(gpt).toContainText('≤ 1000 ms');
  await expect(page.getByTestId('by-model').locator('tr', { hasText: 'in-house-llm' })).toContainText('unpriced');
  await expect(page.getByTestId('recent').locator('tbody tr')).toHaveCount(3);
  await expect(page.getByTestId('unpriced')).toContainText('in-house-llm');

  // Platform admins see unpriced models across organizations.
  await page.context().clearCookies();
  await signIn(page, 'admin@tollbooth.local', 'e2e-admin-password');
  await page.waitForURL(/\/admin$|\/o\//);
  await page.goto('/admin');
  await expect(page.getByTestId('unpriced-models')).toContainText('in-house-llm');
});

test('the usage panel downloads the month as CSV, for members only', async ({ page, browser }) => {
  const email = uniqueEmail('csv');
  const org = createOrgViaCli('CSV Co', email);
  await page.request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${org.api_key}` },
    data: { events: [{ id: 'x1', model: 'gpt-4o', input_tokens: 1000 }, { id: 'x2', model: 'gpt-4o', output_tokens: 100 }] },
  });
  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: "Download this month's events (CSV)" }).click(),
  ]);
  const text = require('node:fs').readFileSync(await download.path(), 'utf8') as string;
  const lines = text.trim().split('\n');
  expect(lines[0]).toContain('id,timestamp,user_id');
  expect(lines).toHaveLength(3);
  expect(text).toContain('x1,');
  expect(text).toContain('0.002500000');

  // Signed out (or another org's member): no CSV.
  const stranger = await browser.newContext();
  const res = await stranger.request.get(`/o/${org.org_id}/usage.csv`);
  expect(res.status()).toBe(401);
  await stranger.close();
});
