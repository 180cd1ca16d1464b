import { expect, test } from './fixtures';
import { createOrgViaCli, hydrated, signIn, uniqueEmail } from './helpers';

// Issue 19: never a silent $0. A unit the model has no price for makes the
// event "partial", named on the panel and listed for admins; a name sent
// with a provider prefix is priced by its entry and listed on the price page.
test('a partly priced event is marked partial on the usage panel and listed for admins', async ({ page }) => {
  const email = uniqueEmail('partial');
  const org = createOrgViaCli('Partial Co', email);
  const resp = await page.request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${org.api_key}` },
    data: { events: [
      // 8 seconds on a token-only model: the tokens are charged, the seconds named.
      { id: 'p1', model: 'gpt-4o', input_tokens: 1000, seconds: 8 },
      // sora-2: $0.10 a second.
      { id: 'v1', model: 'sora-2', seconds: 8 },
      // The OpenAI SDK's spelling through a proxy: priced as gpt-4o.
      { id: 'a1', model: 'openai/gpt-4o', input_tokens: 1000 },
    ] },
  });
  expect(resp.status()).toBe(200);
  const body = await resp.json();
  expect(body.results.map((r: { priced: unknown; cost_usd: string }) => [r.priced, r.cost_usd]))
    .toEqual([['partial', '0.002500000'], [true, '0.800000000'], [true, '0.002500000']]);
  expect(body.results[0].unpriced_units).toEqual(['seconds']);
  expect(body.results[2].priced_as).toBe('gpt-4o');

  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await hydrated(page);
  await expect(page.getByTestId('partial')).toContainText('partial: no price for seconds');
  await expect(page.getByTestId('partly-priced')).toContainText('gpt-4o');
  await expect(page.getByTestId('partly-priced')).toContainText('seconds');
  await expect(page.getByTestId('range-cost-note')).toContainText('1 events only partly priced');

  // Platform admins: the partly priced model on /admin, the resolved name and the last import on /admin/prices.
  await page.context().clearCookies();
  await signIn(page, 'admin@tollbooth.local', 'e2e-admin-password');
  await page.waitForURL(/\/admin$|\/o\//);
  await page.goto('/admin');
  await expect(page.getByTestId('partly-priced-models')).toContainText('gpt-4o');
  await expect(page.getByTestId('partly-priced-models')).toContainText('seconds');
  await page.goto('/admin/prices');
  await expect(page.getByTestId('resolved-names')).toContainText('openai/gpt-4o');
  await expect(page.getByTestId('last-import')).toContainText('catalog');
});
