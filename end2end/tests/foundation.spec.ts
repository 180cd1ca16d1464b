import { expect, test } from './fixtures';
import { createOrgViaCli, hydrated, PASSWORD, setPlanViaCli, signIn, signUp, uniqueEmail } from './helpers';

test('signup lands on the app', async ({ page }) => {
  const orgId = await signUp(page, uniqueEmail('signup'), 'Acme Robotics');
  expect(orgId).toMatch(/^[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { name: 'Usage' })).toBeVisible();
  await expect(page.locator('select[name="org"] option:checked')).toHaveText('Acme Robotics');
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' })).toBeVisible();
});

test('logout and login again', async ({ page }) => {
  const email = uniqueEmail('relogin');
  const orgId = await signUp(page, email, 'Relogin Ltd');
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login$/);
  // Signed out: an organization page sends us back to the login page.
  await page.goto(`/o/${orgId}/keys`);
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page, email);
  await page.waitForURL(`**/o/${orgId}`);
  await expect(page.getByText(email)).toBeVisible();
});

test('a wrong password shows the error', async ({ page }) => {
  const email = uniqueEmail('wrongpw');
  await signUp(page, email, 'Wrong Password Inc');
  await page.context().clearCookies();
  await signIn(page, email, 'not-the-password');
  await expect(page.getByRole('alert')).toHaveText('invalid e-mail or password');
  await expect(page).toHaveURL(/\/login$/);
  // An unknown e-mail gets exactly the same message.
  await signIn(page, uniqueEmail('nobody'), 'not-the-password');
  await expect(page.getByRole('alert')).toHaveText('invalid e-mail or password');
});

test("a member of org A cannot open org B's pages or use its ids", async ({ page }) => {
  const orgB = createOrgViaCli('Org B', uniqueEmail('owner-b'));
  const orgA = await signUp(page, uniqueEmail('owner-a'), 'Org A');

  for (const suffix of ['', '/keys', '/members', '/settings']) {
    const response = await page.goto(`/o/${orgB.org_id}${suffix}`);
    expect(response?.status()).toBe(404);
    await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
    await expect(page.getByText('Org B')).toHaveCount(0);
  }

  // Server functions refuse B's ids, with B's org id or with A's (called as
  // this site's own pages call them: with its Origin).
  const headers = { Origin: new URL(page.url()).origin };
  for (const org_id of [orgB.org_id, orgA]) {
    const revoke = await page.request.post('/api/revoke_api_key', { headers, form: { org_id, key_id: orgB.api_key_id } });
    expect(revoke.status()).toBe(404);
  }
  const list = await page.request.post('/api/list_api_keys', { headers, form: { org_id: orgB.org_id } });
  expect(list.status()).toBe(404);

  // B's key still works: nothing was revoked.
  const me = await page.request.get('/api/v1/me', { headers: { Authorization: `Bearer ${orgB.api_key}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).org_name).toBe('Org B');
});

test('an API key is shown once, authenticates, and is refused once revoked', async ({ page }) => {
  await signUp(page, uniqueEmail('keys'), 'Key Holders');
  await page.getByRole('link', { name: 'API keys' }).click();
  await expect(page.getByRole('heading', { name: 'API keys' })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Name').fill('production backend');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-key').textContent())!.trim();
  expect(secret).toMatch(/^tb_live_[0-9a-f]{48}$/);

  const row = page.locator('tr', { hasText: 'production backend' });
  await expect(row).toContainText(secret.slice(0, 14));
  await expect(row).toContainText('active');

  // Shown once: after a reload only the prefix remains.
  await page.reload();
  await expect(page.getByTestId('new-key')).toHaveCount(0);
  await expect(page.getByText(secret)).toHaveCount(0);

  const me = await page.request.get('/api/v1/me', { headers: { Authorization: `Bearer ${secret}` } });
  expect(me.status()).toBe(200);
  const body = await me.json();
  expect(body.org_name).toBe('Key Holders');
  expect(body.key_name).toBe('production backend');

  await hydrated(page);
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toContainText('revoked');
  const after = await page.request.get('/api/v1/me', { headers: { Authorization: `Bearer ${secret}` } });
  expect(after.status()).toBe(401);
  expect((await after.json()).error.message).toContain('revoked');
});

test('the page hydrates: the password toggle works in the browser', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  const password = page.getByLabel('Password', { exact: true });
  await password.fill(PASSWORD);
  await expect(password).toHaveAttribute('type', 'password');
  await page.getByLabel('Show password').check();
  await expect(password).toHaveAttribute('type', 'text');
  await page.getByLabel('Show password').uncheck();
  await expect(password).toHaveAttribute('type', 'password');
});

test('an invite link lets a new person join as a member', async ({ page, browser }) => {
  const orgId = await signUp(page, uniqueEmail('inviter'), 'Inviting Co');
  // A signup is on Starter, which allows one member: move to Team to invite.
  setPlanViaCli(orgId, 'team');
  await page.goto(`/o/${orgId}/members`);
  await hydrated(page);
  const invitee = uniqueEmail('invitee');
  await page.getByLabel('E-mail').fill(invitee);
  await page.getByRole('button', { name: 'Create invite link' }).click();
  const link = (await page.getByTestId('invite-link').textContent())!.trim();
  expect(link).toMatch(/\/invite\/inv_[0-9a-f]{48}$/);

  const other = await browser.newContext();
  const guest = await other.newPage();
  await guest.goto(link);
  await hydrated(guest);
  await expect(guest.getByRole('heading', { name: 'Join Inviting Co' })).toBeVisible();
  await guest.getByLabel('Password').fill(PASSWORD);
  await guest.getByRole('button', { name: 'Accept invitation' }).click();
  await guest.waitForURL(`**/o/${orgId}`);
  await expect(guest.getByText(invitee)).toBeVisible();
  await expect(guest.locator('.who .role')).toHaveText('member');

  // The link is single-use.
  await guest.goto(link);
  await expect(guest.getByRole('alert')).toContainText('already been used');
  await other.close();

  await page.reload();
  await expect(page.locator('tr', { hasText: invitee })).toBeVisible();
});

test('an ingest-only key records usage but cannot read until an owner grants read', async ({ page }) => {
  await signUp(page, uniqueEmail('scopes'), 'Scoped Keys');
  await page.getByRole('link', { name: 'API keys' }).click();
  await hydrated(page);
  const form = page.locator('section', { hasText: 'Create a key' });
  await form.getByLabel('Name').fill('mobile app');
  await form.getByLabel('read').uncheck();
  await form.getByLabel('manage').uncheck();
  await form.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-key').textContent())!.trim();
  const auth = { Authorization: `Bearer ${secret}` };
  const row = page.locator('tr', { hasText: 'mobile app' });
  await expect(row.locator('[data-scope="ingest"]')).toBeChecked();
  await expect(row.locator('[data-scope="read"]')).not.toBeChecked();

  const ingest = await page.request.post('/api/v1/events', { headers: auth, data: { model: 'gpt-4o', input_tokens: 10 } });
  expect(ingest.status()).toBe(200);
  const refused = await page.request.get('/api/v1/usage', { headers: auth });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error.message).toBe('this key lacks the read scope');

  await row.locator('[data-scope="read"]').check();
  await row.getByRole('button', { name: 'Save scopes' }).click();
  await expect.poll(async () => (await page.request.get('/api/v1/usage', { headers: auth })).status()).toBe(200);
  await page.reload();
  await expect(page.locator('tr', { hasText: 'mobile app' }).locator('[data-scope="read"]')).toBeChecked();
});
