import { describe, expect, it } from 'vitest'
import { boxScoreFast } from '../../src/geometry/box-score.js'
import { connectedRegions } from '../../src/geometry/components.js'
import { convexHull } from '../../src/geometry/hull.js'
import { getMiniBox, minAreaRect } from '../../src/geometry/min-area-rect.js'
import { orderPointsClockwise, polygonArea, polygonPerimeter, rotateQuadStart, roundHalfEven } from '../../src/geometry/point.js'
import { readingOrder } from '../../src/geometry/reading-order.js'
import { unclip } from '../../src/geometry/unclip.js'
import type { Point, Quad } from '../../src/types.js'

const sortPts = (pts: readonly Point[]) => [...pts].map(([x, y]) => [+x.toFixed(6), +y.toFixed(6)]).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!)

describe('roundHalfEven (numpy round)', () => {
  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, -0],
    [2.4, 2],
    [2.6, 3],
    [3, 3],
  ])('%d → %d', (x, want) => expect(roundHalfEven(x)).toBe(want))
})

describe('orderPointsClockwise', () => {
  it.each<[string, Point[], Quad]>([
    ['already ordered', [[0, 0], [10, 0], [10, 5], [0, 5]], [[0, 0], [10, 0], [10, 5], [0, 5]]],
    ['shuffled', [[10, 5], [0, 0], [0, 5], [10, 0]], [[0, 0], [10, 0], [10, 5], [0, 5]]],
    ['tilted quad', [[2, 8], [12, 2], [14, 6], [4, 12]], [[2, 8], [12, 2], [14, 6], [4, 12]]],
    ['counter-clockwise input', [[0, 0], [0, 5], [10, 5], [10, 0]], [[0, 0], [10, 0], [10, 5], [0, 5]]],
  ])('%s', (_, input, want) => expect(orderPointsClockwise(input)).toEqual(want))

  it('never returns the same corner twice, even on ties', () => {
    const q = orderPointsClockwise([[0, 5], [5, 0], [10, 5], [5, 10]]) // a diamond: y−x ties
    expect(new Set(q.map((p) => p.join(','))).size).toBe(4)
  })
})

describe('rotateQuadStart', () => {
  const q: Quad = [[0, 0], [1, 0], [1, 1], [0, 1]]
  it.each([
    [0, q],
    [1, [[1, 0], [1, 1], [0, 1], [0, 0]]],
    [2, [[1, 1], [0, 1], [0, 0], [1, 0]]],
    [-1, [[0, 1], [0, 0], [1, 0], [1, 1]]],
  ])('k=%d', (k, want) => expect(rotateQuadStart(q, k)).toEqual(want))
})

describe('polygon area and perimeter', () => {
  it.each<[Point[], number, number]>([
    [[[0, 0], [4, 0], [4, 3], [0, 3]], 12, 14],
    [[[0, 0], [4, 0], [0, 3]], 6, 12],
    [[[0, 0], [0, 3], [4, 3], [4, 0]], 12, 14], // orientation does not matter
  ])('%j', (pts, area, per) => {
    expect(polygonArea(pts)).toBeCloseTo(area)
    expect(polygonPerimeter(pts)).toBeCloseTo(per)
  })
})

describe('convexHull', () => {
  it('drops interior and collinear points', () => {
    const hull = convexHull([[0, 0], [2, 0], [4, 0], [4, 4], [0, 4], [2, 2], [1, 3]])
    expect(sortPts(hull)).toEqual(sortPts([[0, 0], [4, 0], [4, 4], [0, 4]]))
  })
  it('handles a single point and a segment', () => {
    expect(convexHull([[3, 3], [3, 3]])).toHaveLength(1)
    expect(sortPts(convexHull([[0, 0], [1, 0], [2, 0]]))).toEqual([[0, 0], [2, 0]])
  })
})

describe('minAreaRect (cv2.minAreaRect)', () => {
  it('axis-aligned points', () => {
    const r = minAreaRect([[1, 1], [9, 1], [9, 4], [1, 4], [5, 2]])
    expect(Math.max(r.width, r.height)).toBeCloseTo(8)
    expect(Math.min(r.width, r.height)).toBeCloseTo(3)
  })
  it('a rectangle rotated by 30° keeps its size', () => {
    const c = Math.cos(Math.PI / 6)
    const s = Math.sin(Math.PI / 6)
    const rect: Point[] = [[0, 0], [10, 0], [10, 4], [0, 4]].map(([x, y]) => [x! * c - y! * s + 20, x! * s + y! * c + 20])
    const r = minAreaRect(rect)
    expect(Math.max(r.width, r.height)).toBeCloseTo(10)
    expect(Math.min(r.width, r.height)).toBeCloseTo(4)
    expect(sortPts(r.corners)).toEqual(sortPts(rect))
  })
  it('collinear points give a zero-height rectangle', () => {
    const r = minAreaRect([[0, 5], [3, 5], [7, 5]])
    expect(Math.min(r.width, r.height)).toBeCloseTo(0)
    expect(Math.max(r.width, r.height)).toBeCloseTo(7)
  })
})

describe('getMiniBox (PaddleOCR get_mini_boxes)', () => {
  it('orders corners top-left, top-right, bottom-right, bottom-left and gives the short side', () => {
    const { box, sside } = getMiniBox([[2, 3], [12, 3], [12, 7], [2, 7], [6, 5]])
    expect(box.map((p) => p.map((v) => Math.round(v)))).toEqual([[2, 3], [12, 3], [12, 7], [2, 7]])
    expect(sside).toBeCloseTo(4)
  })
})

describe('unclip (pyclipper offset, round joins)', () => {
  it('expands a 100×10 box by area·1.5/perimeter = 6.82 px on every side', () => {
    const box: Point[] = [[0, 0], [100, 0], [100, 10], [0, 10]]
    const out = unclip(box, 1.5)!
    const d = (1000 * 1.5) / 220
    const xs = out.map((p) => p[0])
    const ys = out.map((p) => p[1])
    expect(Math.min(...xs)).toBeCloseTo(-d, 0)
    expect(Math.max(...xs)).toBeCloseTo(100 + d, 0)
    expect(Math.min(...ys)).toBeCloseTo(-d, 0)
    expect(Math.max(...ys)).toBeCloseTo(10 + d, 0)
    // round joins: corners are arcs, so more than 4 vertices
    expect(out.length).toBeGreaterThan(4)
  })
  it('returns null for a degenerate box', () => {
    expect(unclip([[1, 1], [1, 1], [1, 1], [1, 1]], 1.5)).toBeNull()
  })
})

describe('connectedRegions (8-connected)', () => {
  const grid = (rows: string[]) => ({
    mask: Uint8Array.from(rows.join('').split('').map((c) => (c === '#' ? 1 : 0))),
    w: rows[0]!.length,
    h: rows.length,
  })
  it.each([
    ['two separate blobs', ['##..##', '##..##', '......'], 2],
    ['diagonal touch joins', ['#.....', '.#....', '..#...'], 1],
    ['U shape is one region', ['#...#', '#...#', '#####'], 1],
    ['empty', ['.....', '.....'], 0],
    ['ring with a hole is one region', ['#####', '#...#', '#####'], 1],
    ['merging late (V shape)', ['#...#', '.#.#.', '..#..'], 1],
  ])('%s', (_, rows, n) => {
    const g = grid(rows as string[])
    expect(connectedRegions(g.mask, g.w, g.h)).toHaveLength(n as number)
  })
  it('keeps the run end points of each region', () => {
    const g = grid(['......', '.####.', '.####.', '......'])
    const [r] = connectedRegions(g.mask, g.w, g.h)
    expect(sortPts(r!.points)).toEqual(sortPts([[1, 1], [4, 1], [1, 2], [4, 2]]))
  })
})

describe('boxScoreFast', () => {
  it('is the mean of the map inside the box only', () => {
    const w = 6
    const h = 4
    const pred = new Float32Array(w * h)
    for (let y = 1; y <= 2; y++) for (let x = 1; x <= 4; x++) pred[y * w + x] = 1
    expect(boxScoreFast(pred, w, h, [[1, 1], [4, 1], [4, 2], [1, 2]])).toBeCloseTo(1)
    expect(boxScoreFast(pred, w, h, [[0, 0], [5, 0], [5, 3], [0, 3]])).toBeCloseTo(8 / 24)
  })
  it('clips boxes that leave the map', () => {
    const pred = new Float32Array(16).fill(0.5)
    expect(boxScoreFast(pred, 4, 4, [[-3, -3], [9, -3], [9, 9], [-3, 9]])).toBeCloseTo(0.5)
  })
})

describe('readingOrder (sorted_boxes)', () => {
  const box = (x: number, y: number): Quad => [[x, y], [x + 10, y], [x + 10, y + 5], [x, y + 5]]
  it.each<[string, Quad[], number[]]>([
    ['top to bottom', [box(0, 50), box(0, 0), box(0, 25)], [1, 2, 0]],
    ['same line (|dy| < 10) goes left to right', [box(50, 3), box(0, 0), box(100, 8)], [1, 0, 2]],
    ['a slightly higher box on the right stays after the left one', [box(0, 5), box(40, 0)], [0, 1]],
    ['lines 10 px apart are different lines', [box(50, 0), box(0, 10)], [0, 1]],
  ])('%s', (_, boxes, want) => expect(readingOrder(boxes)).toEqual(want))
})
