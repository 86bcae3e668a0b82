/** The XML helpers the hOCR and ALTO tests rely on: they must report broken documents and evaluate XPath as xmllint did. */
import { describe, expect, it } from 'vitest'
import { xmlErrors, xpath } from './support.js'

describe('XML helpers (libxml2-wasm)', () => {
  it('accept a well-formed document', () => {
    expect(xmlErrors('<?xml version="1.0"?><a x="1"><b>t &amp; u</b></a>')).toBe('')
  })

  it.each([
    ['a mismatched end tag', '<a><b></a>', /mismatch/i],
    ['an unescaped ampersand', '<a>Tom & Jerry</a>', /EntityRef|entity/i],
    ['an entity XML does not define', '<a>&nbsp;</a>', /nbsp/],
    ['a duplicate attribute', '<a x="1" x="2"/>', /redefined/i],
    ['two root elements', '<a/><b/>', /extra content/i],
  ])('report %s, with its line and column', (_, xml, message) => {
    const errors = xmlErrors(xml)
    expect(errors).toMatch(message)
    expect(errors).toMatch(/^\d+:\d+: /)
  })

  it('evaluate XPath to strings, numbers and node sets', () => {
    const doc = '<r xmlns="urn:x"><p ID="a">one</p><p ID="b">two</p></r>'
    expect(xpath(doc, 'count(/*/*)')).toBe('2')
    expect(xpath(doc, "string(/*/*[local-name()='p'][2])")).toBe('two')
    expect(xpath(doc, 'namespace-uri(/*)')).toBe('urn:x')
    expect(xpath(doc, 'count(/*/*) div 4')).toBe('0.5')
    expect(xpath(doc, '//@ID')).toBe('ID="a" ID="b"')
    expect(xpath(doc, '//nothing')).toBe('')
  })
})
