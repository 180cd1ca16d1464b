import { defineConfig } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// scripts/test.sh passes a free port; each run gets a fresh SQLite database.
const port = Number(process.env.E2E_PORT ?? 3100);
const dataDir = process.env.E2E_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tollbooth-e2e-'));
process.env.E2E_DATA_DIR = dataDir;
process.env.E2E_DATABASE_URL = `sqlite://${dataDir}/e2e.db`;
process.env.E2E_BIN = path.resolve(__dirname, '../target/debug/tollbooth');

// The local Stripe double (`tollbooth stripe-double`) on its own free port
// (scripts/test.sh passes one; else one is picked here, as test.sh does).
function freePort(): number {
  const py = 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])';
  return Number(execFileSync('python3', ['-c', py]).toString().trim());
}
const stripePort = Number(process.env.E2E_STRIPE_PORT ?? freePort());
// Workers load this file again: they must agree on the port.
process.env.E2E_STRIPE_PORT = String(stripePort);
const stripeBase = `http://127.0.0.1:${stripePort}`;
const webhookSecret = 'whsec_e2e';
// The double refuses any other key (its --secret-key).
const stripeKey = 'sk_test_e2e';

// The local LLM upstream double (`tollbooth mock-llm`): the gateway's
// default OpenAI and Anthropic upstreams in this run.
const llmPort = Number(process.env.E2E_LLM_PORT ?? freePort());
process.env.E2E_LLM_PORT = String(llmPort);
const llmBase = `http://127.0.0.1:${llmPort}`;
const llmKey = 'sk-mock-llm-e2e';

export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: 1,
  // One retry, reported as "flaky" in the output: a rare hydration timeout
  // (2 in ~40 runs, see the README) is being investigated.
  retries: 1,
  forbidOnly: true,
  reporter: [['list']],
  timeout: 30_000,
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  webServer: [
    {
      command: `${process.env.E2E_BIN} serve`,
      url: `http://127.0.0.1:${port}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        DATABASE_URL: process.env.E2E_DATABASE_URL,
        LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
        LEPTOS_SITE_ROOT: path.resolve(__dirname, '../target/site'),
        TOLLBOOTH_ADMIN_PASSWORD: 'e2e-admin-password',
        TOLLBOOTH_DEMO_PASSWORD: 'e2e-demo-password',
        // The demo organization starts empty here: the specs count what they record.
        TOLLBOOTH_SEED_DEMO_USAGE: 'false',
        RUST_LOG: 'warn',
        // Every test signs up from 127.0.0.1: no per-IP signup limit here.
        TOLLBOOTH_SIGNUPS_PER_IP_PER_HOUR: '0',
        STRIPE_SECRET_KEY: stripeKey,
        STRIPE_API_BASE: stripeBase,
        STRIPE_WEBHOOK_SECRET: webhookSecret,
        STRIPE_PLAN_PRICES: 'pro=price_e2e_pro,team=price_e2e_team',
        STRIPE_CREDIT_PACK_PRICES: 'credits-10=price_e2e_c10,credits-50=price_e2e_c50,credits-200=price_e2e_c200',
        TOLLBOOTH_OPENAI_BASE_URL: `${llmBase}/v1`,
        TOLLBOOTH_OPENAI_API_KEY: llmKey,
        TOLLBOOTH_ANTHROPIC_BASE_URL: llmBase,
        TOLLBOOTH_ANTHROPIC_API_KEY: llmKey,
      },
    },
    {
      command: `${process.env.E2E_BIN} mock-llm --port ${llmPort} --api-key ${llmKey}`,
      port: llmPort,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: { RUST_LOG: 'warn' },
    },
    {
      command: [
        process.env.E2E_BIN, 'stripe-double', '--port', String(stripePort), '--secret-key', stripeKey,
        '--webhook-url', `http://127.0.0.1:${port}/webhooks/stripe`,
        '--webhook-secret', webhookSecret, '--public-url', stripeBase,
        // Unit amounts (cents) of the prices below, as in the seeded catalog.
        '--price', 'price_e2e_pro=2900', '--price', 'price_e2e_team=9900',
        '--price', 'price_e2e_c10=1000', '--price', 'price_e2e_c50=5000', '--price', 'price_e2e_c200=20000',
      ].join(' '),
      port: stripePort,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: { RUST_LOG: 'warn' },
    },
  ],
});
