import { Option } from 'commander';

/** `--param key=value`, repeatable. */
export function paramOption(): Option {
  return new Option('-p, --param <key=value>', 'application parameter (repeatable)').argParser(collect).default([]);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
