// ECharts, with only the parts the console uses (tree-shaken), and the district map
// registered from the outline shipped with the project (no tile server, no internet).

import * as echarts from 'echarts/core';
import { BarChart, CustomChart, EffectScatterChart, GaugeChart, LineChart, PieChart, ScatterChart } from 'echarts/charts';
import { GeoComponent, GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import boundaryText from '../../crates/demo/data/pingcheng_boundary.geojson?raw';

echarts.use([
  BarChart,
  CustomChart,
  EffectScatterChart,
  GaugeChart,
  LineChart,
  PieChart,
  ScatterChart,
  GeoComponent,
  GridComponent,
  LegendComponent,
  TitleComponent,
  TooltipComponent,
  CanvasRenderer,
]);

export { echarts };

export const DISTRICT = 'pingcheng';
const boundary = JSON.parse(boundaryText);
export const districtName: string = boundary.features?.[0]?.properties?.name ?? '';
echarts.registerMap(DISTRICT, boundary);

/** The district outline's bounding box [[minLon, minLat], [maxLon, maxLat]]. */
export function districtBounds(): [[number, number], [number, number]] {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const f of boundary.features) {
    const rings = f.geometry.type === 'Polygon' ? f.geometry.coordinates : f.geometry.coordinates.flat();
    for (const ring of rings) for (const [x, y] of ring) {
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
  }
  return [[minX, minY], [maxX, maxY]];
}

/** A circle of `radiusM` metres around (lon, lat) as a ring of lon/lat points. */
export function circle(lon: number, lat: number, radiusM: number, n = 40): [number, number][] {
  const dLat = radiusM / 111_320;
  const dLon = radiusM / (111_320 * Math.cos((lat * Math.PI) / 180));
  const pts: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n;
    pts.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return pts;
}

/** A chart in `el` that resizes with the window; dispose() when the page goes. */
export function chart(el: HTMLElement, theme?: string): echarts.ECharts {
  const c = echarts.init(el, theme, { renderer: 'canvas' });
  const ro = new ResizeObserver(() => c.resize());
  ro.observe(el);
  const dispose = c.dispose.bind(c);
  c.dispose = () => {
    ro.disconnect();
    dispose();
  };
  return c;
}

export const COLORS = {
  normal: '#2ecc71',
  alarm: '#ff3b30',
  offline: '#7f8c9a',
  facility: '#4fc3f7',
};
