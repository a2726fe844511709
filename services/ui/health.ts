import { h } from './dom.js';

interface ReadinessReport {
  ready: boolean;
  dependencies: { name: string; ok: boolean; detail: string }[];
}

/** One service's /readyz as a line: ready or not, and each dependency. */
export async function healthLine(name: string, baseUrl: string, signal: AbortSignal): Promise<HTMLElement> {
  try {
    const response = await fetch(new URL('/readyz', baseUrl), { signal });
    const report = (await response.json()) as ReadinessReport;
    return h(
      'li',
      { class: report.ready ? 'ok' : 'bad' },
      h('strong', {}, `${name}: ${report.ready ? 'ready' : 'not ready'}`),
      ...report.dependencies.map((dependency) =>
        h('span', { class: dependency.ok ? 'ok' : 'bad' }, ` · ${dependency.name} ${dependency.detail}`),
      ),
    );
  } catch (error) {
    return h('li', { class: 'bad' }, h('strong', {}, `${name}: unreachable`), ` · ${(error as Error).message}`);
  }
}
