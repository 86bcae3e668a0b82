/** DB's unclip: offset a polygon outwards by area·ratio/perimeter with round joins (pyclipper semantics, via clipper-lib). */
import ClipperLib from 'clipper-lib'
import type { Point } from '../types.js'
import { polygonArea, polygonPerimeter } from './point.js'

/**
 * Expands `box` as PaddleOCR's DBPostProcess.unclip does. Coordinates are truncated to integers
 * when handed to Clipper, as pyclipper does. Returns null unless the offset yields exactly one polygon.
 */
export function unclip(box: readonly Point[], ratio: number): Point[] | null {
  const perimeter = polygonPerimeter(box)
  if (perimeter === 0) return null
  const distance = (polygonArea(box) * ratio) / perimeter
  const co = new ClipperLib.ClipperOffset(2, 0.25)
  co.AddPath(
    box.map((p) => ({ X: Math.trunc(p[0]), Y: Math.trunc(p[1]) })),
    ClipperLib.JoinType.jtRound,
    ClipperLib.EndType.etClosedPolygon,
  )
  const solution: { X: number; Y: number }[][] = []
  co.Execute(solution, distance)
  if (solution.length !== 1) return null
  return solution[0]!.map((p) => [p.X, p.Y] as Point)
}
