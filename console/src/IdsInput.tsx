import { ctl, Field, parseIds } from './ui';

/** User ids pasted as text or read from a CSV file (segments members, grants). */
export function IdsInput({ value, onChange, name, label, error }: { value: string; onChange: (v: string) => void; name: string; label: string; error?: string }) {
  const count = parseIds(value).length;
  const onFile = async (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0];
    if (f) onChange(await f.text());
  };
  return (
    <div class="ids-input">
      <Field label={label} name={name} error={error} wide hint={`${count} distinct id${count === 1 ? '' : 's'} (at most 10,000 per request).`}>
        <textarea {...ctl(name, error)} rows={5} value={value} onInput={(e) => onChange(e.currentTarget.value)} placeholder="one id per line, or comma separated" />
      </Field>
      <div class="field">
        <label for={`${name}-file`}>…or a CSV file (a userId column, or the first column)</label>
        <input id={`${name}-file`} type="file" accept=".csv,.txt,text/csv,text/plain" onChange={onFile} />
      </div>
    </div>
  );
}
