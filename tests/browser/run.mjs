#!/usr/bin/env node
// Runs one browser scenario of the web inbox (scenarios.mjs) in Debian's headless Chromium
// through playwright-core, and prints one JSON line (the last line of stdout) saying how
// it went, for tests/e2e/test_browser_inbox.py to assert on.
//
//   node tests/browser/run.mjs <scenario>
//
// What the scenario needs comes as JSON in PARLEY_BROWSER_CONTEXT (not in argv, where
// the API key would show in `ps`):
//   base_url     the gateway, e.g. http://127.0.0.1:8000
//   api_key      a key of the account owning the seeded store
//   out_dir      where screenshots go (<out_dir>/<scenario>/NN-<page>.png)
//   timeout_ms   how long one wait may take (default 10000)
//   ...          anything else the scenario reads (sandbox URL, store, instance)
//
// Every page a scenario checks (Session.check) is screenshotted and run through
// axe-core; a serious or critical violation fails the scenario, as does an uncaught
// error in the page. Exit code: 0 passed, 1 failed, 2 usage error.
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { scenarios } from './scenarios.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const CHROMIUM = process.env.PARLEY_CHROMIUM || '/usr/bin/chromium';
// As root on a closed network: no sandbox (root), no GPU, and none of Chromium's own
// background traffic (update checks, sync, QUIC probes), which this machine refuses.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// axe impacts that fail a scenario; moderate and minor ones are reported only.
const BLOCKING = new Set(['serious', 'critical']);

/** What a scenario drives: the page, plus screenshots and axe checks by page name. */
export class Session {
  constructor(page, ctx, outDir, report) {
    this.page = page;
    this.ctx = ctx;
    this.outDir = outDir;
    this.report = report;
    this.shots = 0;
  }

  /** A path of the gateway, as an absolute URL. */
  url(path) {
    return new URL(path, this.ctx.base_url).toString();
  }

  /** The element with data-testid=id (Playwright's default test id attribute). */
  tid(id) {
    return this.page.getByTestId(id);
  }

  /** Notes a step, so a failure report says how far the scenario went. */
  step(text) {
    this.report.steps.push(text);
  }

  /** Screenshots the page as it is now and runs axe-core on it. */
  async check(name) {
    this.shots += 1;
    const file = join(this.outDir, `${String(this.shots).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    this.report.screenshots.push(file);
    // axe is defined by the init script (see main) in every document the page loads.
    const result = await this.page.evaluate(() =>
      window.axe.run(document, { resultTypes: ['violations'] }),
    );
    for (const v of result.violations) {
      const entry = {
        page: name,
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
      };
      (BLOCKING.has(v.impact) ? this.report.axe : this.report.axe_minor).push(entry);
    }
  }
}

async function main() {
  const name = process.argv[2];
  const scenario = scenarios[name];
  if (!scenario) {
    process.stderr.write(`usage: run.mjs <${Object.keys(scenarios).join('|')}>\n`);
    process.exit(2);
  }
  const ctx = JSON.parse(process.env.PARLEY_BROWSER_CONTEXT || '{}');
  if (!ctx.base_url || !ctx.out_dir) {
    process.stderr.write('PARLEY_BROWSER_CONTEXT needs base_url and out_dir\n');
    process.exit(2);
  }
  const outDir = join(ctx.out_dir, name);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const report = {
    scenario: name,
    out_dir: outDir,
    ok: false,
    error: null,
    steps: [],
    screenshots: [],
    axe: [],
    axe_minor: [],
    page_errors: [],
    console_errors: [],
    secrets: [],
    seconds: 0,
  };
  const started = Date.now();
  // A fresh profile every run: nothing of an earlier run (cookies, storage) is reused.
  const profile = await mkdtemp(join(tmpdir(), 'parley-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      locale: ctx.locale || 'en-US',
      timezoneId: 'UTC',
      acceptDownloads: true,
    });
    // Injected by the DevTools protocol, so the page's Content-Security-Policy (which
    // rightly forbids inline scripts) neither blocks axe nor has to be bypassed.
    await context.addInitScript({ content: AXE_SOURCE });
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(ctx.timeout_ms || 10000);
    page.on('pageerror', (err) => report.page_errors.push(String(err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error') report.console_errors.push(msg.text());
    });
    const session = new Session(page, ctx, outDir, report);
    try {
      await scenario(session, ctx);
    } catch (err) {
      report.error = err && err.stack ? err.stack : String(err);
      // The page as it was when the scenario failed, for whoever reads the report.
      const file = join(outDir, 'failure.png');
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      report.screenshots.push(file);
    }
  } catch (err) {
    report.error = `browser: ${err && err.stack ? err.stack : err}`;
  } finally {
    if (context) {
      // The session tokens the run was given: pytest adds them to the e2e secret scan
      // (and keeps them out of report.json), so a token in a log fails the session.
      const cookies = await context.cookies().catch(() => []);
      report.secrets = cookies.filter((c) => c.name === 'parley_session').map((c) => c.value);
      await context.close().catch(() => {});
    }
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  }
  report.seconds = (Date.now() - started) / 1000;
  report.ok = !report.error && report.axe.length === 0 && report.page_errors.length === 0;
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(report.ok ? 0 : 1);
}

await main();
