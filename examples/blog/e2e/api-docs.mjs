// Loads the blog's REST API documentation (/api/docs: the embedded Redoc
// rendering /api/openapi.json) in Debian's Chromium, checks that it shows
// the generated resources and the service's own endpoints, and keeps a
// screenshot. Fails if the page throws or asks anything of another origin,
// but for Redoc's logo, which the page's policy refuses (Redoc then hides
// it). Usage: node api-docs.mjs <base URL> <screenshot path>
import { launch } from './browser.mjs';

const [base, shot] = process.argv.slice(2);
if (!base || !shot) {
  console.error('usage: node api-docs.mjs <base URL> <screenshot path>');
  process.exit(2);
}
const LOGO = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const foreign = [];
  const problems = [];
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith('blob:') && url !== LOGO) {
      foreign.push(url);
    }
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('console', (m) => {
    const text = m.text();
    const refusedLogo = text.includes(LOGO) || (m.location().url === LOGO);
    if (m.type() === 'error' && !refusedLogo && !m.location().url.endsWith('/favicon.ico')) {
      problems.push(`console: ${text} (${m.location().url})`);
    }
  });
  await page.goto(`${base}/api/docs`, { waitUntil: 'load' });
  // Each operation is a section headed by its summary.
  for (const text of ['List posts', 'Create a Post', 'Change a Post', 'Publish posts']) {
    await page.locator('h2', { hasText: text }).first().waitFor({ timeout: 20000 });
  }
  const change = page.locator('h2', { hasText: 'Change a Post' }).first();
  await change.scrollIntoViewIfNeeded();
  const section = await change.evaluate((h) => h.closest('[data-section-id]')?.innerText ?? '');
  for (const text of ['If-Match', '412', 'ManyToManyInput']) {
    if (!section.includes(text)) throw new Error(`"Change a Post" does not show ${text}:\n${section}`);
  }
  await page.screenshot({ path: shot });
  if (foreign.length) throw new Error(`requests to other origins: ${foreign.join(', ')}`);
  if (problems.length) throw new Error(problems.join('\n'));
  console.log(`Redoc rendered the OpenAPI document; screenshot: ${shot}`);
} finally {
  await browser.close();
}
