import { expect, test } from './fixtures';
import { randomUUID } from 'node:crypto';
import { createOrgViaCli, hydrated, signIn, uniqueEmail } from './helpers';

// A provider key as an owner would paste it; only its last 4 characters may ever be shown.
const KEY = `sk-proj-e2e-${randomUUID().replace(/-/g, '')}Q7zK`;

test('an owner adds a provider connection and sees its key masked, also after a reload', async ({ page }) => {
  const email = uniqueEmail('providers');
  const org = createOrgViaCli(`Providers Co ${randomUUID().slice(0, 6)}`, email);
  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Providers', exact: true }).click();
  await page.waitForURL(`**/o/${org.org_id}/providers`);
  await hydrated(page);
  await expect(page.getByTestId('providers-empty')).toBeVisible();

  // An OpenAI-compatible server under its own name (203.0.113.0/24 is a
  // public documentation range: the egress rule accepts it without DNS).
  const form = page.getByTestId('provider-form');
  await form.getByLabel('Kind').selectOption('openai_compatible');
  await form.getByLabel('Name').fill('groq');
  await form.getByLabel('Base URL').fill('https://203.0.113.7/openai/v1');
  await form.getByLabel('API key').fill(KEY);
  await form.getByRole('button', { name: 'Save connection' }).click();
  await expect(form.getByTestId('provider-saved')).toContainText('••••Q7zK');
  await expect(form.getByLabel('API key')).toHaveValue('');

  const row = page.locator('tr[data-provider="groq"]');
  await expect(row.getByTestId('provider-key')).toHaveText('••••Q7zK');
  await expect(row).toContainText('https://203.0.113.7/openai/v1');
  await expect(row).toContainText('models named groq/<model>');
  expect(await page.content()).not.toContain(KEY);

  // A readable error names the field.
  await form.getByLabel('Kind').selectOption('openai_compatible');
  await form.getByLabel('Name').fill('vllm');
  await form.getByLabel('Base URL').fill('http://127.0.0.1:8000/v1');
  await form.getByLabel('API key').fill('token-for-a-local-server');
  await form.getByRole('button', { name: 'Save connection' }).click();
  await expect(form.getByRole('alert')).toContainText('base_url');
  await expect(form.getByRole('alert')).toContainText('public internet addresses');

  // After a reload (rendered on the server) the key is still masked.
  await page.reload();
  await hydrated(page);
  await expect(row.getByTestId('provider-key')).toHaveText('••••Q7zK');
  expect(await page.content()).not.toContain(KEY);

  // Deleting asks first.
  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(row.getByTestId('confirm-text')).toContainText('Delete the connection groq?');
  await row.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByTestId('providers-empty')).toBeVisible();
});

test('the connect page shows the base URLs and copy-paste snippets', async ({ page, baseURL }) => {
  const email = uniqueEmail('connect');
  const org = createOrgViaCli(`Connect Co ${randomUUID().slice(0, 6)}`, email);
  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connect', exact: true }).click();
  await page.waitForURL(`**/o/${org.org_id}/connect`);
  await hydrated(page);

  await expect(page.getByTestId('openai-base-url')).toHaveText(`${baseURL}/v1`);
  await expect(page.getByTestId('anthropic-base-url')).toHaveText(`${baseURL}`);
  await expect(page.getByTestId('connect-key')).toContainText('ingest');
  for (const header of ['Tollbooth-User', 'Tollbooth-Project', 'Tollbooth-Feature', 'Tollbooth-Session']) {
    await expect(page.getByTestId('attribution-headers')).toContainText(header);
  }
  const python = page.getByTestId('snippet-openai-python');
  await expect(python).toContainText(`base_url="${baseURL}/v1"`);
  await expect(python).toContainText('api_key="tb_live_…"');
  await expect(python).toContainText('"Tollbooth-User": "customer-42"');
  await expect(page.getByTestId('snippet-openai-typescript')).toContainText(`baseURL: "${baseURL}/v1"`);
  const anthropic = page.getByTestId('snippet-anthropic-python');
  await expect(anthropic).toContainText(`base_url="${baseURL}"`);
  await expect(anthropic).toContainText('metadata={"user_id": "customer-42"}');
  await expect(page.getByTestId('snippet-curl')).toContainText(`curl ${baseURL}/v1/chat/completions`);

  // The copy button (a hydrated event handler, no inline script) fills the clipboard.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await python.getByRole('button', { name: 'Copy' }).click();
  await expect(python.getByRole('button', { name: 'Copied' })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toContain(`base_url="${baseURL}/v1"`);
});

test('a call through the gateway shows on the usage panel with its exact cost', async ({ page, request }) => {
  const email = uniqueEmail('gateway');
  const org = createOrgViaCli(`Gateway Co ${randomUUID().slice(0, 6)}`, email);
  // What an app using the OpenAI SDK sends, with Tollbooth's key and a user header.
  const resp = await request.post('/v1/chat/completions', {
    headers: { Authorization: `Bearer ${org.api_key}`, 'Tollbooth-User': 'customer-42' },
    data: { model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: 'Say hello to the meter' }] },
  });
  expect(resp.status()).toBe(200);
  const answer = await resp.json();
  expect(answer.usage.prompt_tokens).toBe(5);
  const cost = resp.headers()['tollbooth-cost-usd'];
  expect(cost).toMatch(/^0\.\d{9}$/);
  expect(Number(cost)).toBeGreaterThan(0);

  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await hydrated(page);
  const row = page.getByTestId('recent').locator('tbody tr').first();
  await expect(row).toContainText('gpt-4o-mini');
  await expect(row).toContainText('customer-42');
  await expect(row.getByTestId('gateway-call')).toHaveText('/v1/chat/completions');
  // Under $0.00005 the panel shows every significant digit of the exact cost.
  await expect(row).toContainText(`$${cost.replace(/0+$/, '')}`);
  await expect(page.getByTestId('recent-activity')).toBeVisible();
});
