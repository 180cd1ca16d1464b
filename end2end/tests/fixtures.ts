import { test as base, expect, Page } from '@playwright/test';

/**
 * Every spec imports `test` from here: each page it opens fails the test if
 * the browser reports a Content-Security-Policy violation (the app must work
 * under the policy it sends, with nothing blocked).
 */
export const test = base.extend<{ page: Page }>({
  page: async ({ page }, use) => {
    const violations: string[] = [];
    page.on('console', (msg) => {
      const text = msg.text();
      if (/Content Security Policy|Content-Security-Policy/i.test(text)) violations.push(text);
    });
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
      });
    });
    await use(page);
    expect(violations, 'CSP violations reported by the browser').toEqual([]);
  },
});

export { expect };
