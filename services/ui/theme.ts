import { h } from './dom.js';

type Theme = 'system' | 'light' | 'dark';
const themes: Theme[] = ['system', 'light', 'dark'];
const themeKey = 'mts.theme';

function apply(theme: Theme): void {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

/** A button that cycles system → light → dark, remembered across visits. */
export function themeSwitch(): HTMLButtonElement {
  let theme = (localStorage.getItem(themeKey) as Theme | null) ?? 'system';
  apply(theme);
  const button = h('button', { type: 'button', class: 'secondary', id: 'theme-switch', title: 'Colour theme' }, `Theme: ${theme}`);
  button.addEventListener('click', () => {
    theme = themes[(themes.indexOf(theme) + 1) % themes.length]!;
    localStorage.setItem(themeKey, theme);
    apply(theme);
    button.textContent = `Theme: ${theme}`;
  });
  return button;
}
