/** Types of scripts/build.mjs (plain JavaScript so it runs before anything is compiled). */
export const ROOT: string;
export const STAMP: string;
export const SOURCES: string[];
export const BUNDLES: Record<string, string>;
export const APP_NODE_FLAGS: string[];
export function staleReason(root?: string, outDir?: string): string | undefined;
export function build(root?: string, outDir?: string): void;
export function asciiOnly(text: string): string;
