import { ArtifactError } from './errors.js';

/** Pages of one referrers list the client follows; a registry that links on past them is refused. */
export const MAX_REFERRERS_PAGES = 32;

/**
 * The path of the next page a paginated answer links to (`Link: <url>; rel="next"`, RFC 8288,
 * as the distribution spec pages referrers lists). Only within the registry's own origin: the
 * next request carries the registry's credentials.
 */
export function nextPagePath(link: string | undefined, origin: string): string | undefined {
  if (link === undefined) return undefined;
  for (const entry of link.split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(entry);
    if (!match || !/(^|;)\s*rel="?next"?\s*(;|$)/i.test(match[2]!)) continue;
    const url = new URL(match[1]!, origin);
    if (url.origin !== origin) {
      throw new ArtifactError('InvalidArtifact', `the next page of the referrers list is on another origin (${url.origin})`);
    }
    return `${url.pathname}${url.search}`;
  }
  return undefined;
}
