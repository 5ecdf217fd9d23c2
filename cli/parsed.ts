/** A command's parsed arguments, as cli/main.ts hands them over, with typed accessors. */
export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export type Command = (p: Parsed) => Promise<number>;

export const str = (p: Parsed, name: string): string | undefined => p.values[name] as string | undefined;
export const strs = (p: Parsed, name: string): string[] | undefined => p.values[name] as string[] | undefined;
export const flag = (p: Parsed, name: string): boolean => p.values[name] === true;
