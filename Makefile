# Set-up and everyday commands. PYTHON may name another interpreter (a virtualenv's, say).
PYTHON ?= python3
PIP = $(PYTHON) -m pip
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PROFILE = profiles/fashion-mnist-resnet50-next
FIRST_PROFILE = profiles/fashion-mnist-resnet50

.PHONY: docs-figures demo test test-quick mutation mutation-sample data install install-all lint profile profile-run profile-first gpu-timings evaluate bench clean

## demo: install the simulator (no torch) and run the paper sweep on the embedded profile
demo: install
	$(PYTHON) -m sim.cli sweep scenarios/paper.yaml --workers 2
	@echo "figures: results/paper/figures/{hit_rate,latency_cdf,stage_breakdown,acc_vs_deadline}.{png,svg,pdf}"

install:
	$(PIP) install -q .

## docs-figures: the README's figures, regenerated from the demo sweep and scenarios/{adaptive,energy,faults,codecs}.yaml
docs-figures: demo
	mkdir -p docs
	cp results/paper/figures/hit_rate.png docs/paper_hit_rate.png
	$(PYTHON) -m sim.cli sweep scenarios/adaptive.yaml --workers 2
	cp results/adaptive/figures/hit_rate.png docs/adaptive_hit_rate.png
	cp results/adaptive/figures/choices.png docs/adaptive_choices.png
	$(PYTHON) -m sim.cli sweep scenarios/energy.yaml --workers 2
	cp results/energy/figures/energy.png docs/energy.png
	cp results/energy/figures/energy_latency.png docs/energy_latency.png
	$(PYTHON) -m sim.cli sweep scenarios/faults.yaml --workers 2
	cp results/faults/figures/hit_rate.png docs/faults_hit_rate.png
	$(PYTHON) -m sim.cli sweep scenarios/codecs.yaml --workers 2
	cp results/codecs/figures/hit_rate.png docs/codecs_hit_rate.png

## test: install everything (models extra, dev tools, the Debian Fashion-MNIST package) and run every test (CI)
test: install-all data
	$(PYTHON) -m ruff check sim models tests benchmarks examples
	$(PYTHON) -m pytest -q

## test-quick: the tests not marked slow (no subprocesses, no training, no long queueing runs)
test-quick:
	$(PYTHON) -m pytest -q -m "not slow"

## mutation: mutate sim/ and report the share of mutants the fast tests kill, per module (the default
## modules compute the published figures; MUTATE="sim.scenario sim.cli" for others; not CI). Hours on
## 2 cores: about 3,900 mutants, those of engine and records each running most of the suite; an
## interrupted run still reports the mutants it checked (python benchmarks/mutation_report.py)
## mutation-sample: the same on every mutant whose number ends in DIGIT (0-9): a tenth of each
## function's mutants, so every function is represented (35-40 min); the report gives each
## module's score with its 95% interval. Another DIGIT draws another sample.
MUTATE = sim.engine sim.nodes sim.channel sim.results sim.records
DIGIT = 3
mutation: SAMPLE =
mutation-sample: SAMPLE = __mutmut_*$(DIGIT)
mutation mutation-sample: install-all
	$(PIP) install -q "mutmut==3.8.1"
	rm -rf mutants
	-$(PYTHON) -m mutmut run --max-children 2 $(foreach m,$(MUTATE),'$(m).*$(SAMPLE)') > mutation.log 2>&1
	$(PYTHON) benchmarks/mutation_report.py $(MUTATE)

## install-all: the simulator, the models extra (torch, CompressAI), Dask, gymnasium and dev tools.
## CompressAI 1.2.8 pins numpy<2, which pyarrow needs; it works with numpy 2 (tests/modelside/test_codecs.py),
## so it is installed without its pins, its other requirements coming from the models extra.
COMPRESSAI = compressai==1.2.8
install-all:
	$(PIP) install -q ".[models,cluster,rl,dev]"
	$(PIP) install -q --no-deps "$(COMPRESSAI)"

data:
	@if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; fi

lint:
	$(PYTHON) -m ruff check sim models tests benchmarks examples

## profile: retrain and re-profile the embedded default, every codec (issue 10; resumable, many hours on a
## 2-core CPU): a 30-epoch backbone, AECNN near 256/1024/4096x, BottleNet++ with the published decoder (raw and
## entropy-coded) and one level with the two-layer decoder beside it, AECNN-RD at five rate weights, and every
## image codec
## (DATA_ROOT=DIR: Fashion-MNIST's four idx .gz files in DIR instead of the Debian package, e.g. on a GPU machine
## without root; CODEC_EPOCHS, FINETUNE_EPOCHS, MAX_TRAIN (empty: all 60,000) lengthen the codecs' schedule)
## profile-run: the same without installing anything (a machine that has the models extra and no network)
RUN = runs/fmnist-r50-long
DATA_ROOT ?=
CODEC_EPOCHS ?= 2
FINETUNE_EPOCHS ?= 1
MAX_TRAIN ?= 20000
PIPELINE_ARGS = --run $(RUN) $(if $(DATA_ROOT),--data-root $(DATA_ROOT),) --backbone-epochs 30 --backbone-lr 0.1 \
	$(if $(MAX_TRAIN),--max-train $(MAX_TRAIN),) --ratios 256,1024,4096 --plan-candidates 4 --bottlenet 4:1,1:1,1:2,1:3 \
	--rd 16:0.003,16:0.01,16:0.03,16:0.1,8:0.3:2 --codec-epochs $(CODEC_EPOCHS) --finetune-epochs $(FINETUNE_EPOCHS)
profile: install-all $(if $(DATA_ROOT),,data)
	$(MAKE) profile-run
profile-run:
	$(PYTHON) -m models.cli pipeline $(PIPELINE_ARGS)
	[ -f $(RUN)/bottlenet-k1s1-dec2.pt ] || $(PYTHON) -m models.cli train bottlenet --run $(RUN) \
		--k 1 --stride 1 --decoder two-layer --epochs $(CODEC_EPOCHS) --finetune-epochs $(FINETUNE_EPOCHS) \
		$(if $(MAX_TRAIN),--max-train $(MAX_TRAIN),)
	$(PYTHON) -m models.cli profile --run $(RUN) --out $(PROFILE)

## profile-first: the first profile, before the codec registry (about 2 h on a 2-core CPU; the scenarios no
## longer use it, the benchmarks' reference commits do)
profile-first: install-all data
	$(PYTHON) -m models.cli pipeline --run runs/fmnist-r50 --profile-out $(FIRST_PROFILE) \
		--backbone-epochs 4 --backbone-more-epochs 3 --backbone-more-lr 0.05 --max-train 20000 --ratios 256,1024,4096 --plan-candidates 4 --bottlenet 4:1,1:1,1:2,1:3

## gpu-timings: on a machine with CUDA, time every stage of $(PROFILE) at batch 1..64 in fp32 and merge them
## under GPU_KEY (e.g. make gpu-timings GPU_KEY=cuda-h100); then point the scenarios' edge at it
GPU_KEY ?= cuda-gpu
gpu-timings: install-all data
	$(PYTHON) -m models.cli time $(PROFILE) --hardware $(GPU_KEY) --device cuda --merge
	$(PYTHON) -m models.cli time $(PROFILE) --hardware $(GPU_KEY)-bf16 --device cuda --precision bf16 \
		--channels-last --merge

## evaluate: the rate-accuracy table of every codec, paired verdicts and targets (no torch), and the figure,
## of the embedded profile (EVAL_PROFILE; the first profile: make evaluate
## EVAL_PROFILE=profiles/fashion-mnist-resnet50 FIGURE=docs/rate_accuracy_first.png)
EVAL_PROFILE = $(PROFILE)
FIGURE = docs/rate_accuracy.png
evaluate:
	$(PYTHON) -m models.cli evaluate $(EVAL_PROFILE) --figure $(FIGURE)

bench: install
	$(PYTHON) benchmarks/bench_sim.py

clean:
	rm -rf build *.egg-info .pytest_cache
