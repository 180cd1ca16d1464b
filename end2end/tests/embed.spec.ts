import { expect, test, Page } from '@playwright/test';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { createOrgViaCli, uniqueEmail } from './helpers';

// A product's page on another origin (a tiny static server on its own port,
// started here) that shows Tollbooth's usage meter in an iframe.
async function productSite(meterUrl: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!DOCTYPE html><html><body><h1>My product</h1>
      <iframe id="meter" title="Usage meter" src="${meterUrl}" width="360" height="220"></iframe></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function setOrigins(page: Page, key: string, origins: string[]): Promise<void> {
  const resp = await page.request.put('/api/v1/embed-origins', {
    headers: { Authorization: `Bearer ${key}` },
    data: { origins },
  });
  expect(resp.status()).toBe(200);
}

async function meterUrl(page: Page, key: string): Promise<string> {
  const resp = await page.request.post('/api/v1/embed-tokens', {
    headers: { Authorization: `Bearer ${key}` },
    data: { ttl_seconds: 600 },
  });
  expect(resp.status()).toBe(201);
  return (await resp.json()).url;
}

test('the meter loads in an iframe of a listed origin and is refused elsewhere', async ({ page, baseURL }) => {
  const org = createOrgViaCli('Embed Co', uniqueEmail('embed'));
  const key = org.api_key;
  const ingest = await page.request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${key}` },
    data: { id: 'e1', model: 'gpt-4o', user_id: 'u1', input_tokens: 4321, output_tokens: 1000 },
  });
  expect(ingest.ok()).toBeTruthy();
  const url = await meterUrl(page, key);
  expect(url.startsWith(baseURL!)).toBeTruthy();

  const listed = await productSite(url);
  const unlisted = await productSite(url);
  try {
    await setOrigins(page, key, [listed.origin]);

    // Listed: the meter shows this month's figures inside the product's page.
    await page.goto(listed.origin);
    const frame = page.frameLocator('#meter');
    await expect(frame.getByTestId('meter-tokens')).toHaveText('5,321');
    await expect(frame.getByTestId('meter-sparkline')).toBeVisible();

    // Not listed: the browser refuses to render it in the frame.
    const refusals: string[] = [];
    page.on('console', (m) => {
      if (m.text().includes('frame-ancestors')) refusals.push(m.text());
    });
    const meterResponse = page.waitForResponse((r) => r.url().startsWith(`${baseURL}/embed/usage`));
    await page.goto(unlisted.origin);
    // The server answered (200, with the policy naming only the listed origin)…
    const resp = await meterResponse;
    expect(resp.status()).toBe(200);
    expect(resp.headers()['content-security-policy']).toContain(`frame-ancestors ${listed.origin}`);
    // …and the browser did not show it.
    await expect.poll(() => refusals.length).toBeGreaterThan(0);
    await expect(page.frameLocator('#meter').getByTestId('meter-tokens')).toHaveCount(0);
  } finally {
    await listed.close();
    await unlisted.close();
  }
});

test('the meter opened directly: dark theme, and a plain 401 page for a bad token', async ({ page }) => {
  const org = createOrgViaCli('Embed Dark Co', uniqueEmail('embed-dark'));
  const url = await meterUrl(page, org.api_key);
  await page.goto(`${url}&theme=dark`);
  await expect(page.locator('html.dark')).toHaveCount(1);
  await expect(page.getByTestId('meter-tokens')).toHaveText('0');
  const bad = await page.goto(url.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
  expect(bad!.status()).toBe(401);
  await expect(page.getByRole('heading', { name: 'Not authorized' })).toBeVisible();
});
