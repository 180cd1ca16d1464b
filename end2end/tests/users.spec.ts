import { expect, test } from './fixtures';
import { createOrgViaCli, hydrated, signIn, uniqueEmail } from './helpers';

// gpt-4o in the shipped catalog: $2.50/M input, $10/M output.
// 1,000 input + 200 output tokens = $0.0045 a call, 1,200 tokens.
const CALL = { model: 'gpt-4o', provider: 'openai', input_tokens: 1000, output_tokens: 200 };

test('the End users page lists users against their limits, sets defaults and a user is blocked from its page', async ({ page }) => {
  const email = uniqueEmail('users');
  const org = createOrgViaCli('Users Co', email);
  const auth = { Authorization: `Bearer ${org.api_key}` };
  const events = [
    { ...CALL, id: 'a1', user_id: 'alice' },
    { ...CALL, id: 'a2', user_id: 'alice' },
    { ...CALL, id: 'b1', user_id: 'bob' },
  ];
  expect((await page.request.post('/api/v1/events', { headers: auth, data: { events } })).status()).toBe(200);

  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await page.getByRole('link', { name: 'End users', exact: true }).click();
  await page.waitForURL(`**/o/${org.org_id}/users`);
  await hydrated(page);
  const rows = page.getByTestId('end-users').locator('tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toHaveAttribute('data-user', 'alice');
  await expect(rows.nth(0)).toContainText('2,400');
  // Money for people, the exact figure in the tooltip.
  await expect(rows.nth(0)).toContainText('$0.01');
  await expect(rows.nth(0).locator('span[title="Exactly $0.009"]').first()).toBeVisible();
  await expect(page.getByTestId('user-limits-summary')).toContainText('Off');

  // Defaults: 5,000 tokens a day for every end user.
  await page.getByText('Change default limits').click();
  await page.getByLabel('Per-user limits on').check();
  await page.getByLabel('Tokens per day').fill('5,000');
  await page.getByRole('button', { name: 'Save per-user limits' }).click();
  await expect(page.getByTestId('user-limits-summary')).toContainText('On: every end user may use 5,000 tokens a day');
  await expect(rows.nth(0)).toContainText('2,400 / 5,000 per day');

  // A bad value is refused with a readable message and changes nothing.
  await page.getByLabel('Cost per day (USD)').fill('lots');
  await page.getByRole('button', { name: 'Save per-user limits' }).click();
  await expect(page.getByRole('alert')).toContainText('cost_per_day');
  await expect(page.getByTestId('user-limits-summary')).toContainText('5,000 tokens a day');

  // Search.
  await page.getByLabel('Search').fill('bo');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(rows).toHaveCount(1);
  await expect(rows.nth(0)).toHaveAttribute('data-user', 'bob');

  // Alice's page: limited by the defaults; blocked from here.
  await page.goto(`/o/${org.org_id}/user?id=alice`);
  await hydrated(page);
  await expect(page.getByTestId('user-status')).toContainText('Limited: 5,000 tokens a day');
  await expect(page.getByTestId('limit-tokens-day')).toContainText('2,400 / 5,000 per day');
  await expect(page.getByTestId('user-models')).toContainText('gpt-4o');
  await page.getByLabel('Blocked').check();
  await page.getByRole('button', { name: "Save this user's limits" }).click();
  await expect(page.getByTestId('user-status')).toContainText('Blocked');
  const refused = await page.request.post('/api/v1/reservations', {
    headers: auth,
    data: { user_id: 'alice', checks: [{ metric: 'tokens', amount: 1 }] },
  });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error.message).toContain('blocked');

  // Custom: 10,000 a day for alice only.
  await page.getByLabel('Custom limits').check();
  await page.getByLabel('Tokens per day').fill('10000');
  await page.getByRole('button', { name: "Save this user's limits" }).click();
  await expect(page.getByTestId('user-status')).toContainText('Limited: 10,000 tokens a day');
  const granted = await page.request.post('/api/v1/reservations', {
    headers: auth,
    data: { user_id: 'alice', checks: [{ metric: 'tokens', amount: 7000 }] },
  });
  expect(granted.status()).toBe(201);
});
