import { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { randomUUID } from 'node:crypto';
import { createOrgViaCli, hydrated, signIn, uniqueEmail } from './helpers';

async function signInAsAdmin(page: Page): Promise<void> {
  await signIn(page, 'admin@tollbooth.local', 'e2e-admin-password');
  await page.waitForURL(/\/admin$|\/o\//);
}

/** Sends one event with the organization's key and returns its cost. */
async function costOf(page: Page, apiKey: string, event: object): Promise<string | null> {
  const resp = await page.request.post('/api/v1/events', { headers: { Authorization: `Bearer ${apiKey}` }, data: event });
  expect(resp.status()).toBe(200);
  return (await resp.json()).results[0].cost_usd;
}

test('a platform admin overrides an input price and later events cost the new price', async ({ page }) => {
  const org = createOrgViaCli('Prices Co', uniqueEmail('prices'));
  // mistral/mistral-small-latest in the shipped catalog: $0.15/M input, $0.60/M output.
  const call = { model: 'mistral/mistral-small-latest', input_tokens: 1000, output_tokens: 1000 };
  expect(await costOf(page, org.api_key, { ...call, id: 'before' })).toBe('0.000750000');

  await signInAsAdmin(page);
  await page.goto('/admin');
  await hydrated(page);
  await page.getByRole('link', { name: 'Price book' }).click();
  await page.waitForURL(/\/admin\/prices$/);
  await page.getByRole('searchbox', { name: 'Search' }).fill('MISTRAL-SMALL-LATEST');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/q=MISTRAL-SMALL-LATEST/);
  const link = page.getByRole('link', { name: 'mistral/mistral-small-latest', exact: true });
  const row = page.getByTestId('prices').locator('tr', { has: link });
  await expect(row).toContainText('$0.15');
  await expect(row).toContainText('$0.60');
  await expect(row).toContainText('catalog');

  await link.click();
  await expect(page).toHaveURL(/\/admin\/prices\/model\?name=mistral%2Fmistral-small-latest$/);
  await expect(page.getByRole('heading', { name: 'mistral/mistral-small-latest' })).toBeVisible();
  await expect(page.getByLabel('Input price')).toHaveValue('0.15');

  // Bad input is refused with the field named.
  await page.getByLabel('Input price').fill('-1');
  await page.getByRole('button', { name: 'Save override' }).click();
  await expect(page.getByRole('alert')).toContainText('input price: must be a non-negative decimal');

  await page.getByLabel('Input price').fill('0.5');
  await page.getByRole('button', { name: 'Save override' }).click();
  await expect(page.getByRole('status')).toContainText('Override saved');
  const newest = page.getByTestId('history').locator('tbody tr').first();
  await expect(newest).toContainText('override');
  await expect(newest).toContainText('in force');
  await expect(newest).toContainText('$0.50');
  await expect(page.getByTestId('history').locator('tbody tr').nth(1)).toContainText('past');

  // 1000 × $0.50/M + 1000 × $0.60/M; the earlier event keeps its cost.
  expect(await costOf(page, org.api_key, { ...call, id: 'after' })).toBe('0.001100000');
  expect(await costOf(page, org.api_key, { ...call, id: 'before' })).toBe('0.000750000');

  // The list shows the override too (SSR of the query in the URL).
  await page.goto('/admin/prices?q=mistral-small-latest&provider=mistral');
  const listed = page.getByTestId('prices').locator('tr', { has: page.getByRole('link', { name: 'mistral/mistral-small-latest', exact: true }) });
  await expect(listed).toContainText('$0.50');
  await expect(listed).toContainText('override');
});

test('an unpriced model is added as a custom model and then prices events', async ({ page }) => {
  const org = createOrgViaCli('Custom Co', uniqueEmail('custom'));
  const model = `acme/e2e-llm:${randomUUID().slice(0, 8)}`;
  expect(await costOf(page, org.api_key, { id: 'early', model, input_tokens: 10 })).toBeNull();

  await signInAsAdmin(page);
  await page.goto('/admin');
  await hydrated(page);
  const unpriced = page.getByTestId('unpriced-models').locator('tr', { hasText: model });
  await unpriced.getByRole('link', { name: 'Add as custom model' }).click();
  await page.waitForURL(/\/admin\/prices\/new\?name=/);
  await hydrated(page);
  await expect(page.getByLabel('Model name')).toHaveValue(model);
  await page.getByLabel('Provider').fill('acme');
  await page.getByLabel('Input price').fill('1');
  await page.getByLabel('Output price').fill('2');
  await page.getByRole('button', { name: 'Add model' }).click();
  await page.waitForURL(/\/admin\/prices\/model\?name=acme%2Fe2e-llm%3A/);
  await expect(page.getByRole('heading', { name: model })).toBeVisible();
  await expect(page.getByTestId('history')).toContainText('custom');

  // 1000 × $1/M + 500 × $2/M
  expect(await costOf(page, org.api_key, { id: 'priced', model, input_tokens: 1000, output_tokens: 500 })).toBe('0.002000000');

  // The name is now taken.
  await page.goto(`/admin/prices/new?name=${encodeURIComponent(model)}`);
  await hydrated(page);
  await page.getByLabel('Provider').fill('acme');
  await page.getByLabel('Input price').fill('1');
  await page.getByRole('button', { name: 'Add model' }).click();
  await expect(page.getByRole('alert')).toContainText('already in the price book');
});
