/** Reading JSON log lines as they are written, duplicates included (JSON.parse would hide a repeated key). */

/** The top-level keys of a JSON object text, in order, duplicates kept (JSON.parse would hide them). */
export function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let index = 0;
  while (index < line.length) {
    const char = line[index];
    if (char === '"') {
      let end = index + 1;
      while (end < line.length && line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      const text = line.slice(index + 1, end);
      let after = end + 1;
      while (line[after] === ' ') after += 1;
      if (depth === 1 && line[after] === ':') keys.push(text);
      index = end + 1;
      continue;
    }
    if (char === '{' || char === '[') depth += 1;
    if (char === '}' || char === ']') depth -= 1;
    index += 1;
  }
  return keys;
}

/** The keys that stand more than once at the top of a JSON log line. */
export function duplicateKeys(line: string): string[] {
  const keys = topLevelKeys(line);
  return keys.filter((key, index) => keys.indexOf(key) !== index);
}
