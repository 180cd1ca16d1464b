import { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { randomUUID } from 'node:crypto';
import { createOrgViaCli, hydrated, runTrialsAt, signIn, uniqueEmail } from './helpers';

const DAY = 86_400_000;

async function signInAsAdmin(page: Page): Promise<void> {
  await signIn(page, 'admin@tollbooth.local', 'e2e-admin-password');
  await page.waitForURL(/\/admin$|\/o\//);
}

test('an owner starts a Pro trial, a platform admin extends it, and past its end the organization is on Starter', async ({ page, browser }) => {
  const email = uniqueEmail('trial');
  const name = `Trial Co ${randomUUID().slice(0, 6)}`;
  const org = createOrgViaCli(name, email);

  // The owner starts the self-serve trial from the billing page.
  await signIn(page, email);
  await page.waitForURL(`**/o/${org.org_id}`);
  await page.goto(`/o/${org.org_id}/billing`);
  await hydrated(page);
  const offer = page.getByTestId('trial-offer');
  await expect(offer).toBeVisible();
  await offer.getByRole('button', { name: 'Start a 14-day Pro trial' }).click();
  // Every page now says so, with the way to pay.
  const banner = page.getByTestId('trial-banner');
  await expect(banner).toContainText('Pro trial: 14 days left');
  await expect(banner.getByRole('link', { name: 'Upgrade' })).toBeVisible();
  await expect(page.getByTestId('plan-name')).toHaveText('Pro');
  await expect(page.getByTestId('trial-card')).toContainText('14 days left');
  await page.goto(`/o/${org.org_id}`);
  await expect(page.getByTestId('trial-banner')).toContainText('Pro trial: 14 days left');

  // A platform admin extends it by a week, with a reason.
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await signInAsAdmin(admin);
  await admin.goto('/admin?trialing=1');
  await hydrated(admin);
  await expect(admin.getByTestId('admin-orgs')).toContainText(name);
  await expect(admin.getByTestId('admin-trials')).toContainText(/Active trials/);
  await admin.goto(`/admin/org?id=${org.org_id}`);
  await hydrated(admin);
  const trial = admin.getByTestId('org-trial');
  await expect(trial.getByTestId('trial-summary')).toContainText('14 days left');
  const extend = trial.getByTestId('extend-trial');
  await extend.getByLabel('Extend by (days)').fill('7');
  await extend.getByLabel('Reason').fill('pilot with the data team');
  await extend.getByRole('button', { name: 'Extend' }).click();
  await expect(trial.getByTestId('trial-summary')).toContainText('21 days left');
  await admin.reload();
  await expect(admin.getByTestId('org-audit')).toContainText('trial.extend');
  await adminContext.close();

  await page.reload();
  await expect(page.getByTestId('trial-banner')).toContainText('Pro trial: 21 days left');

  // A simulated clock past the end: the billing task's trial step moves it to Starter.
  const out = runTrialsAt(new Date(Date.now() + 22 * DAY));
  expect(out).toMatch(/[1-9]\d* expired/);
  await page.goto(`/o/${org.org_id}/billing`);
  await hydrated(page);
  await expect(page.getByTestId('plan-name')).toHaveText('Starter');
  await expect(page.getByTestId('trial-banner')).toContainText('Your Pro trial has ended: this organization is on Starter now.');
  // Once per organization: no second self-serve trial.
  await expect(page.getByTestId('trial-offer')).toHaveCount(0);
});
