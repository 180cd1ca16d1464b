import { expect, test } from './fixtures';
import { createOrgViaCli, hydrated, signIn, uniqueEmail } from './helpers';

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
  // Money for people: cents from half a cent up, the exact figure in the tooltip.
  await expect(page.getByTestId('Cost this month')).toContainText('$0.01');
  await expect(page.getByTestId('Cost this month').locator('.value')).toHaveAttribute('title', 'Exactly $0.008');
  await expect(page.getByTestId('Cost this month')).toContainText('excludes 1 unpriced events');
  await expect(page.getByTestId('Tokens in')).toContainText('2,050');
  await expect(page.getByTestId('Tokens in')).toContainText('800 cached');
  await expect(page.getByTestId('Tokens out')).toContainText('400');
  const gpt = page.getByTestId('breakdown-table').locator('tr', { hasText: 'gpt-4o' });
  await expect(gpt).toContainText('$0.01');
  await expect(gpt.locator('[title="Exactly $0.008"]')).toHaveText('$0.01');
  await expect(gpt).toContainText('≤ 1000 ms');
  await expect(page.getByTestId('breakdown-table').locator('tr', { hasText: 'in-house-llm' })).toContainText('unpriced');
  await expect(page.getByTestId('recent').locator('tbody tr')).toHaveCount(3);
  await expect(page.getByTestId('unpriced')).toContainText('in-house-llm');

  // Platform admins see unpriced models across organizations.
  await page.context().clearCookies();
  await signIn(page, 'admin@tollbooth.local', 'e2e-admin-password');
  await page.waitForURL(/\/admin$|\/o\//);
  await page.goto('/admin');
  await expect(page.getByTestId('unpriced-models')).toContainText('in-house-llm');
});

test('the usage panel downloads the range as CSV, for members only', async ({ page, browser }) => {
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
    page.getByRole('link', { name: 'Download this range (CSV)' }).click(),
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

const DAY = 24 * 3600 * 1000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY).toISOString();

/** Reads a downloaded file as CSV lines (header first). */
async function csvLines(download: import('@playwright/test').Download): Promise<string[]> {
  const text = require('node:fs').readFileSync(await download.path(), 'utf8') as string;
  return text.trim().split('\n');
}

test('the range picker, charts, breakdown, activity filter and CSV follow the selected range', async ({ page }) => {
  const consoleErrors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  const email = uniqueEmail('range');
  const org = createOrgViaCli('Range Co', email);
  // gpt-4o: $2.50/M input, $1.25/M cached, $10/M output → $0.004 per call below.
  // gpt-4o-mini: $0.15/M input, $0.60/M output → 10,000 in + 2,000 out = $0.0027.
  const call = { model: 'gpt-4o', input_tokens: 1000, cached_input_tokens: 400, output_tokens: 200, user_id: 'alice', project_id: 'web', feature: 'chat', session_id: 's-1' };
  const resp = await page.request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${org.api_key}` },
    data: { events: [
      { ...call, id: 'today-1' },
      { ...call, id: 'today-2' },
      { id: 'today-unpriced', model: 'in-house-llm', input_tokens: 50 },
      { id: 'd20', timestamp: daysAgo(20), model: 'gpt-4o-mini', input_tokens: 10000, output_tokens: 2000, user_id: 'bob', project_id: 'api', feature: 'summarize', status: 'error' },
      { id: 'd60', timestamp: daysAgo(60), model: 'gpt-4o', input_tokens: 4000, user_id: 'carol' },
    ] },
  });
  expect(resp.status()).toBe(200);
  expect((await resp.json()).results.map((r: { cost_usd: string | null }) => r.cost_usd))
    .toEqual(['0.004000000', '0.004000000', null, '0.002700000', '0.010000000']);

  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await hydrated(page);

  // Default range: the last 30 days (today's three events and the one of 20 days ago).
  await expect(page.getByRole('link', { name: 'Last 30 days' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('range-cost')).toHaveText('$0.01');
  await expect(page.getByTestId('range-cost')).toHaveAttribute('title', /^Exactly \$0\.0107/);
  await expect(page.getByTestId('range-events')).toHaveText('4');
  await expect(page.getByTestId('range-tokens')).toHaveText('14,450');
  await expect(page.getByTestId('range-summary')).toContainText('excludes 1 unpriced events');

  // Each chart is drawn by ECharts into a canvas.
  for (const id of ['chart-daily-cost', 'chart-cost-by-model', 'chart-tokens']) {
    await expect(page.getByTestId(id).locator('canvas')).toHaveCount(1);
  }

  // Breakdown: largest cost first; cost per 1k tokens is exact; sortable both ways.
  const table = page.getByTestId('breakdown-table');
  const firstCells = () => table.locator('tbody tr td:first-child');
  await expect(firstCells()).toHaveText(['gpt-4o', 'gpt-4o-mini', 'in-house-llm']);
  const gpt = table.locator('tbody tr').filter({ has: page.locator('td:first-child', { hasText: /^gpt-4o$/ }) });
  await expect(gpt).toContainText('$0.003333'); // $0.008 / 2,400 tokens × 1,000
  await expect(gpt).toContainText('40.0%'); // cached share of input
  await expect(gpt).toContainText('0.20'); // output / input
  const costHeader = table.locator('th', { hasText: 'Cost' }).first();
  await expect(costHeader).toHaveAttribute('aria-sort', 'descending');
  await costHeader.getByRole('button').click();
  await expect(costHeader).toHaveAttribute('aria-sort', 'ascending');
  await expect(firstCells()).toHaveText(['in-house-llm', 'gpt-4o-mini', 'gpt-4o']);
  await table.getByRole('button', { name: 'Events' }).click();
  await expect(firstCells().first()).toHaveText('gpt-4o');
  await page.getByRole('tab', { name: 'User' }).click();
  await expect(firstCells()).toHaveText(['alice', 'bob', '(none)']);
  await page.getByRole('tab', { name: 'Session' }).click();
  await expect(table.locator('tbody tr', { hasText: 's-1' })).toContainText('$0.01');
  await expect(firstCells()).toHaveText(['s-1', '(none)']);
  // Every tab but models loads its rows when selected.
  await page.getByRole('tab', { name: 'Project' }).click();
  await expect(firstCells()).toHaveText(['web', 'api', '(none)']);
  await page.getByRole('tab', { name: 'Session' }).click();
  await expect(firstCells()).toHaveText(['s-1', '(none)']);

  // Changing the range refetches without a full page load.
  await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
  await page.getByRole('link', { name: 'Last 7 days' }).click();
  await page.waitForURL(/\?range=7d$/);
  await expect(page.getByTestId('range-cost')).toHaveText('$0.01');
  await expect(page.getByTestId('range-events')).toHaveText('3');
  await expect(page.getByRole('link', { name: 'Last 7 days' })).toHaveAttribute('aria-current', 'page');
  // The chosen breakdown tab and sort survive the new range.
  await expect(page.getByRole('tab', { name: 'Session' })).toHaveAttribute('aria-selected', 'true');
  await expect(firstCells()).toHaveText(['s-1', '(none)']);
  await page.getByRole('link', { name: 'Last 90 days' }).click();
  await expect(page.getByTestId('range-cost')).toHaveText('$0.02');
  await expect(page.getByTestId('range-events')).toHaveText('5');
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
  for (const id of ['chart-daily-cost', 'chart-cost-by-model', 'chart-tokens']) {
    await expect(page.getByTestId(id).locator('canvas')).toHaveCount(1);
  }

  // Recent activity filter: errors only, then by user.
  const recent = page.getByTestId('recent');
  await expect(recent.locator('tbody tr')).toHaveCount(5);
  await page.getByLabel('Status').selectOption('error');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/status=error/);
  await expect(recent.locator('tbody tr')).toHaveCount(1);
  await expect(recent.locator('tbody tr')).toContainText('gpt-4o-mini');
  await expect(page.getByTestId('range-cost')).toHaveText('$0.02'); // the range is kept
  await page.getByRole('link', { name: 'Clear' }).click();
  await page.waitForURL(/\?range=90d$/);
  await expect(recent.locator('tbody tr')).toHaveCount(5);
  await page.getByLabel('User').fill('carol');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/user=carol/);
  await expect(recent.locator('tbody tr')).toHaveCount(1);
  await expect(recent.locator('tbody tr')).toContainText('$0.01');
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);

  // Custom range: just the day 20 days ago, through the date form.
  const d20 = daysAgo(20).slice(0, 10);
  await page.getByLabel('From').fill(d20);
  await page.getByLabel('to', { exact: true }).fill(d20);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(new RegExp(`from=${d20}&to=${d20}`));
  await expect(page.getByTestId('range-cost')).toHaveText('$0.0027');
  await expect(page.getByTestId('range-events')).toHaveText('1');

  // The CSV holds exactly the events of the selected range.
  await page.getByRole('link', { name: 'Last 7 days' }).click();
  await expect(page.getByTestId('range-events')).toHaveText('3');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download this range (CSV)' }).click(),
  ]);
  const lines = await csvLines(download);
  expect(lines).toHaveLength(4);
  expect(lines.slice(1).map((l) => l.split(',')[0]).sort()).toEqual(['today-1', 'today-2', 'today-unpriced']);

  // A server render of a shared link shows the range's numbers before any script runs.
  const html = await (await page.request.get(`/o/${org.org_id}?range=90d`)).text();
  expect(html).toMatch(/data-testid="range-cost"[^>]*>\$0\.02</);

  expect(consoleErrors).toEqual([]);

  // A custom range that ends before it starts is explained, with a way back.
  await page.goto(`/o/${org.org_id}?from=2026-03-10&to=2026-03-01`);
  await expect(page.getByRole('alert')).toContainText('must not be before from');
  await page.getByRole('link', { name: 'Show the last 30 days' }).click();
  await expect(page.getByTestId('range-events')).toHaveText('4');
});
