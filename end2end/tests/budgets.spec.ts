import { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { createOrgViaCli, hydrated, signIn, uniqueEmail } from './helpers';

async function openBudgets(page: Page, email: string, orgId: string): Promise<void> {
  await signIn(page, email);
  await page.waitForURL(`**/o/${orgId}`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Budgets', exact: true }).click();
  await page.waitForURL(`**/o/${orgId}/budgets`);
  await hydrated(page);
}

test('an owner creates a budget, edits it, opens its chart and deletes it', async ({ page }) => {
  const email = uniqueEmail('budgets');
  const org = createOrgViaCli('Budget Co', email);
  await openBudgets(page, email, org.org_id);
  await expect(page.getByTestId('budgets-empty')).toHaveText('No budgets yet. Create one above.');

  const create = page.getByTestId('budget-create');
  await create.getByLabel('Name').fill('Whole team');
  await expect(create.getByLabel('Alert thresholds (%)')).toHaveValue('50, 80, 100');
  await create.getByLabel('Amount (USD)').fill('50');
  await create.getByRole('button', { name: 'Create budget' }).click();
  await expect(create.getByRole('status')).toContainText('Budget Whole team created.');

  const row = page.getByTestId('budgets').locator('tbody tr', { hasText: 'Whole team' });
  await expect(row).toContainText('Organization');
  await expect(row).toContainText('Monthly');
  await expect(row).toContainText('$50.00');
  await expect(row.getByTestId('budget-percent')).toHaveText('0.00%');
  await expect(row.getByTestId('budget-outlook')).toHaveText('On track');

  await row.getByRole('link', { name: 'Whole team' }).click();
  await page.waitForURL(/\/budgets\/[^/]+$/);
  await hydrated(page);
  await expect(page.getByTestId('budget-name')).toHaveText('Whole team');
  await expect(page.getByTestId('budget-amount')).toHaveText('$50.00');
  await expect(page.getByTestId('budget-spent')).toHaveText('$0.00');
  await expect(page.getByTestId('budget-outlook')).toHaveText('On track');
  // ECharts draws the period into a canvas.
  await expect(page.getByTestId('chart-budget').locator('canvas')).toHaveCount(1);

  const edit = page.getByTestId('budget-edit');
  await expect(edit.getByLabel('Amount (USD)')).toHaveValue('50.00');
  await edit.getByLabel('Amount (USD)').fill('75.5');
  await edit.getByLabel('At 100%').selectOption('pause');
  await edit.getByRole('button', { name: 'Save budget' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Budget saved.' })).toBeVisible();
  await expect(page.getByTestId('budget-amount')).toHaveText('$75.50');
  await expect(page.getByTestId('chart-budget').locator('canvas')).toHaveCount(1);

  await page.getByRole('button', { name: 'Delete budget' }).click();
  await page.waitForURL(`**/o/${org.org_id}/budgets`);
  await expect(page.getByTestId('budgets-empty')).toBeVisible();
});

test('a bad amount or threshold is refused with a readable message', async ({ page }) => {
  const email = uniqueEmail('budget-errors');
  const org = createOrgViaCli('Budget Errors Co', email);
  await openBudgets(page, email, org.org_id);
  const create = page.getByTestId('budget-create');
  await create.getByLabel('Amount (USD)').fill('ten dollars');
  await create.getByRole('button', { name: 'Create budget' }).click();
  await expect(create.getByRole('alert')).toContainText('is not an amount in USD such as 12.50');

  await create.getByLabel('Amount (USD)').fill('10');
  await create.getByLabel('Alert thresholds (%)').fill('50, lots');
  await create.getByRole('button', { name: 'Create budget' }).click();
  await expect(create.getByRole('alert')).toContainText('"lots" is not a whole percentage');
  await expect(page.getByTestId('budgets-empty')).toBeVisible();
});

test('a budget of an API key shows its spend against the budget', async ({ page }) => {
  const email = uniqueEmail('budget-spend');
  const org = createOrgViaCli('Budget Spend Co', email);
  // gpt-4o in the shipped catalog: 1,000 input and 200 output tokens cost $0.0045.
  const resp = await page.request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${org.api_key}` },
    data: { events: [{ id: 'b1', model: 'gpt-4o', input_tokens: 1000, output_tokens: 200 }] },
  });
  expect(resp.status()).toBe(200);
  await openBudgets(page, email, org.org_id);

  const create = page.getByTestId('budget-create');
  await create.getByLabel('Scope').selectOption('api_key');
  // The scope id's field follows the scope: here a select of the active keys.
  await create.locator('select[name="scope_id"]').selectOption(org.api_key_id);
  await create.getByLabel('Period').selectOption('daily');
  await create.getByLabel('Amount (USD)').fill('0.003');
  await create.getByRole('button', { name: 'Create budget' }).click();
  const row = page.getByTestId('budgets').locator('tbody tr');
  await expect(row).toContainText(org.api_key_id);
  await expect(row.getByTestId('budget-percent')).toHaveText('150.00%');
  await expect(row.locator('.meter')).toHaveClass(/exhausted/);
  await expect(row.getByTestId('budget-outlook')).toHaveText('Over budget');
});
