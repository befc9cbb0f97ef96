// @ts-expect-error -- @xmpp/xml 0.14 ships no type declarations; XmlModule below types what we use.
import * as untyped from '@xmpp/xml';

/**
 * Typed view of `@xmpp/xml` (ltx elements). The package has no declarations of its own, so the subset
 * Holdfast relies on is declared here and every package imports `Element` and `xml` from
 * `@holdfast/xmpp`, never from `@xmpp/xml`.
 */
export type XmlNode = Element | string;

export type XmlAttrs = Record<string, string>;

export interface Element {
  name: string;
  attrs: XmlAttrs;
  children: XmlNode[];
  parent: Element | null;
  /** Local name and, if given, namespace (resolved through `xmlns` attributes up the parents). */
  is(name: string, xmlns?: string): boolean;
  /** The name without its prefix. */
  getName(): string;
  getNS(): string | undefined;
  getAttr(name: string, xmlns?: string): string | undefined;
  getChild(name: string, xmlns?: string): Element | undefined;
  getChildren(name: string, xmlns?: string): Element[];
  getChildElements(): Element[];
  getText(): string;
  getChildText(name: string, xmlns?: string): string | null;
  append(...nodes: XmlNode[]): void;
  prepend(...nodes: XmlNode[]): void;
  c(name: string, attrs?: XmlAttrs): Element;
  t(text: string): this;
  up(): Element;
  root(): Element;
  remove(el: Element | string, xmlns?: string): this;
  toString(): string;
}

export interface ElementConstructor {
  new (name: string, attrs?: Readonly<XmlAttrs>): Element;
  readonly prototype: Element;
}

/** What `xml()` accepts as children: `null`, `undefined`, booleans and `''` are skipped, arrays flattened. */
export type XmlChild = XmlNode | null | undefined | boolean | readonly XmlChild[];

export type XmlBuilderAttrs = Readonly<Record<string, string | number | null | undefined>>;

interface XmlModule {
  Element: ElementConstructor;
  createElement(name: string, attrs?: Record<string, unknown> | null, ...children: unknown[]): Element;
}

const lib = untyped as unknown as XmlModule;

export const Element: ElementConstructor = lib.Element;

/**
 * `@xmpp/xml`'s `xml(name, attrs, ...children)`. ltx rewrites the attrs object it is given (stringifies
 * values, deletes nullish ones), which throws on frozen objects and surprises callers; it gets a copy.
 */
export function xml(name: string, attrs?: XmlBuilderAttrs | null, ...children: XmlChild[]): Element {
  return lib.createElement(name, attrs ? { ...attrs } : attrs, ...children);
}

/** A deep copy: stanzas are rewritten (stamped, addressed) on copies, never on what others hold. */
export function cloneElement(element: Element): Element {
  return xml(
    element.name,
    { ...element.attrs },
    ...element.children.map((child) => (typeof child === 'string' ? child : cloneElement(child))),
  );
}
