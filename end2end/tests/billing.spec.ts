import { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { hydrated, signUp, uniqueEmail } from './helpers';

// Billing against the local Stripe double (started by playwright.config.ts):
// its hosted checkout page has a "Pay" button that completes the session,
// sends the signed webhooks to the app and redirects to the success URL.

async function openBilling(page: Page, orgId: string, query = ''): Promise<void> {
  await page.goto(`/o/${orgId}/billing${query}`);
  await hydrated(page);
}

/** On the double's checkout page: pay, and come back to the billing page. */
async function payOnCheckout(page: Page, back: RegExp): Promise<void> {
  await page.waitForURL(/\/checkout\//);
  await page.getByRole('button', { name: 'Pay' }).click();
  await page.waitForURL(back);
  await hydrated(page);
}

test('coming back to the success URL without paying changes nothing', async ({ page }) => {
  test.setTimeout(60_000);
  const orgId = await signUp(page, uniqueEmail('billing-nopay'), 'No Pay Co');
  await openBilling(page, orgId, '?checkout=success');
  const notice = page.getByTestId('return-notice');
  await expect(notice).toContainText('your plan changes as soon as Stripe confirms it');
  // The page looks again for about ten seconds, then says nothing arrived.
  await expect(notice).toContainText('Stripe has not confirmed a payment yet', { timeout: 20_000 });
  await expect(page.getByTestId('plan-name')).toHaveText('Starter');
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('plan-name')).toHaveText('Starter');
});

test('a Starter organization upgrades to Pro through Checkout, then buys a $10 credit pack', async ({ page }) => {
  test.setTimeout(90_000);
  const orgId = await signUp(page, uniqueEmail('billing'), 'Billing Co');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Billing', exact: true }).click();
  await page.waitForURL(`**/o/${orgId}/billing`);
  await expect(page.getByTestId('plan-name')).toHaveText('Starter');
  await expect(page.getByTestId('payments-off')).toHaveCount(0);
  await expect(page.getByTestId('billing-period')).toContainText(', ends ');

  // Upgrade → Stripe's (the double's) checkout → Pay → back on Billing.
  const pro = page.getByTestId('plan-choices').locator('li[data-plan="pro"]');
  await pro.getByRole('button', { name: 'Upgrade' }).click();
  await payOnCheckout(page, /\/billing\?checkout=success/);
  await expect(page.getByTestId('plan-name')).toHaveText('Pro', { timeout: 15_000 });
  await expect(page.getByTestId('return-notice')).toContainText('your new plan is active');
  await expect(page.getByTestId('subscription')).toContainText('active');
  // Pro's limits: 1,000,000 tokens a month included, then $2.00 per 1M.
  const tokens = page.getByTestId('billing-usage').locator('tr[data-metric="tokens"]');
  await expect(tokens).toContainText('1,000,000');
  await expect(tokens).toContainText('$2.00 per 1M tokens');
  await expect(page.getByTestId('plan-choices').locator('li[data-plan="pro"]')).toContainText('Current');
  await expect(page.getByRole('button', { name: 'Manage billing' })).toBeVisible();

  // A $10 credit pack.
  await expect(page.getByTestId('credit-balance')).toHaveText('$0.00');
  await page.getByTestId('credit-packs').locator('tr[data-pack="credits-10"]').getByRole('button', { name: 'Buy' }).click();
  await payOnCheckout(page, /\/billing\?credits=success/);
  await expect(page.getByTestId('credit-balance')).toHaveText('$10.00', { timeout: 15_000 });
  await expect(page.getByTestId('return-notice')).toContainText('your credits were added');
  await expect(page.getByTestId('credit-entries')).toContainText('Purchase');
  await page.screenshot({ path: 'test-results/billing-after-purchase.png', fullPage: true });
});
