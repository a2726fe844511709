const svgNamespace = 'http://www.w3.org/2000/svg';
const width = 80;
const height = 18;

/** A small line of recent values, highest at the top; flat when all are zero. */
export function sparkline(values: number[]): SVGSVGElement {
  const svg = document.createElementNS(svgNamespace, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('aria-hidden', 'true');
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const line = document.createElementNS(svgNamespace, 'polyline');
  line.setAttribute(
    'points',
    values.map((value, index) => `${(index * step).toFixed(1)},${(height - 1 - (value / max) * (height - 2)).toFixed(1)}`).join(' '),
  );
  svg.append(line);
  return svg;
}
