import { expect, test } from './fixtures';

// GET /api/docs: Swagger UI, served by Tollbooth from vendor/ (npm's
// swagger-ui-dist, copied by scripts/build.sh), renders this server's
// OpenAPI document under the app's Content-Security-Policy (the fixture
// fails the test on any violation) and fetches nothing from elsewhere.
test('the API docs render every operation with nothing loaded from another host', async ({ page, baseURL }) => {
  const here = new URL(baseURL!).host;
  const elsewhere: string[] = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol.startsWith('http') && url.host !== here) elsewhere.push(r.url());
  });
  await page.goto('/api/docs');
  await expect(page.locator('.swagger-ui .info .title')).toContainText('Tollbooth API');
  await expect(page.locator('#operations-usage-ingest_events')).toBeVisible();
  expect(await page.locator('.opblock').count()).toBeGreaterThan(50);
  // An operation opens with its answers and their example.
  const ingest = page.locator('#operations-usage-ingest_events');
  await ingest.locator('.opblock-summary').click();
  for (const text of ['207', '422', '429', 'accepted']) await expect(ingest).toContainText(text);
  expect(elsewhere).toEqual([]);
});
