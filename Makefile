# tl_classifier: `make demo` and `make test` are all a user needs (see README.md).
# Every target installs what is missing first (Debian's ROS 1 packages, a
# virtual environment with TensorFlow), builds the catkin workspace in .ws/,
# and does nothing again when nothing changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

ROOT := $(abspath .)
WS := .ws
VENV := .venv
STAMPS := $(WS)/stamps
SYS_PY := /usr/bin/python3
# The TensorFlow build to install; for a GPU: make TF_PACKAGE='tensorflow[and-cuda]==2.21.0'
TF_PACKAGE ?= tensorflow-cpu==2.21.0
# What of this repository makes up the catkin package (linked into $(WS)/src/tl_classifier).
PACKAGE_PARTS := package.xml CMakeLists.txt setup.py tl_classifier launch scripts msg models test bench
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

APT_PACKAGES := ros-core-dev catkin python3-catkin-pkg python3-rospy python3-rosbag python3-rostest \
  python3-roslaunch python3-cv-bridge python3-sensor-msgs python3-std-msgs python3-diagnostic-msgs \
  python3-diagnostic-updater rosbash ros-image-view python3-venv python3-yaml cmake g++ make

.PHONY: build odapi demo test lint format check unit rostest clean distclean default-model default-model-data loro probe report benchmarks help FORCE

# --- 1. Debian packages: ROS 1 (Noetic-era 1.15/1.16) --------------------------
$(STAMPS)/apt: Makefile
	@mkdir -p $(STAMPS)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make: installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@touch $@

# --- 2. Python packages: a venv that sees Debian's ROS modules ------------------
$(STAMPS)/tf-package: FORCE
	@mkdir -p $(STAMPS); echo '$(TF_PACKAGE)' | cmp -s - $@ || echo '$(TF_PACKAGE)' > $@

$(STAMPS)/venv: requirements.txt $(STAMPS)/tf-package $(STAMPS)/apt
	@test -x $(VENV)/bin/python || $(SYS_PY) -m venv --system-site-packages $(VENV)
	@echo "make: installing Python packages into $(VENV) ($(TF_PACKAGE), requirements.txt)"
	@$(VENV)/bin/pip install -q --disable-pip-version-check '$(TF_PACKAGE)' -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
	@$(VENV)/bin/python -c "import tensorflow, cv2, numpy, cv_bridge, rospy, rosbag" 2>/dev/null || { echo "make: the Python environment does not import" >&2; exit 1; }
	@touch $@

# --- 3. The catkin workspace .ws/ with this repository as its only package ------
$(STAMPS)/build: $(STAMPS)/venv CMakeLists.txt package.xml setup.py $(wildcard msg/*.msg) $(wildcard scripts/*) $(wildcard test/*.test)
	@# The package in the workspace is a folder of links to this repository's parts, so that
	@# rospack and rosrun never look into .ws/ or .venv/ (a link to the whole repository would loop).
	@mkdir -p $(WS)/src/tl_classifier
	@for p in $(PACKAGE_PARTS); do ln -sfn $(ROOT)/$$p $(WS)/src/tl_classifier/$$p; done
	@echo "make: building the catkin workspace $(WS) (log: $(WS)/build.log)"
	@cd $(WS) && PATH=/usr/bin:$$PATH catkin_make -DPYTHON_EXECUTABLE=$(ROOT)/$(VENV)/bin/python3 -DCATKIN_ENABLE_TESTING=ON \
	  -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { tail -30 build.log; exit 1; }
	@touch $@

build: $(STAMPS)/build  ## install what is missing and build the workspace (the default)

# --- 4. The Object Detection API's own environment .odapi/ (for `train run`), apart from .venv -----------
# The OD API trains only with TensorFlow 2.13-era pins; the node runs TensorFlow 2.21 (see requirements-odapi.txt).
ODAPI := .odapi
$(STAMPS)/odapi: requirements-odapi.txt requirements-odapi-nodeps.txt $(STAMPS)/apt
	@mkdir -p $(STAMPS)
	@test -x $(ODAPI)/bin/python || $(SYS_PY) -m venv $(ODAPI)
	@echo "make: installing the Object Detection API into $(ODAPI) (TensorFlow 2.13; requirements-odapi*.txt)"
	@$(ODAPI)/bin/pip install -q --disable-pip-version-check -r requirements-odapi.txt 2>&1 | grep -v "^WARNING: Location" || true
	@$(ODAPI)/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-odapi-nodeps.txt 2>&1 | grep -v "^WARNING: Location" || true
	@$(ODAPI)/bin/python -c "from object_detection import model_lib_v2, exporter_lib_v2" >/dev/null 2>&1 || \
	  { echo "make: the OD API environment $(ODAPI) does not import object_detection" >&2; exit 1; }
	@touch $@

odapi: $(STAMPS)/odapi  ## the Object Detection API's environment (.odapi/, for train run; ~1 min with a warm pip cache)

help:  ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 22

# --- the main job ----------------------------------------------------------------
demo/sample.bag: $(STAMPS)/build tl_classifier/data/synth.py tl_classifier/commands/synthesize.py
	./env.sh rosrun tl_classifier synthesize $@ --overwrite

demo: demo/sample.bag  ## play a sample bag into classify.launch and print the states; then classify_bag on it
	./env.sh rosrun tl_classifier demo $(ROOT)/demo/sample.bag
	./env.sh rosrun tl_classifier classify_bag $(ROOT)/demo/sample.bag -o $(ROOT)/demo/replay --overwrite

# --- tests -------------------------------------------------------------------------
lint: $(STAMPS)/venv  ## ruff check, ruff format --check, mypy on the package
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMPS)/venv  ## ruff format and the fixes ruff can make
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: lint $(STAMPS)/build  ## the fast loop (under a minute): lint, types, the tests not marked slow
	./env.sh python -m pytest test -q -p no:cacheprovider -m "not slow"

unit: $(STAMPS)/build $(STAMPS)/odapi  ## pytest (the OD API tests need make odapi: it runs first)
	@mkdir -p $(WS)/test_results
	./env.sh python -m pytest test -q -p no:cacheprovider --junitxml=$(WS)/test_results/pytest.xml

rostest: $(STAMPS)/build  ## every test/*.test under rostest
	@rm -rf $(WS)/build/test_results
	@echo "make: rostest (catkin_make run_tests; log: $(WS)/rostest.log)"
	@# -j1: one .test at a time, so timing-sensitive tests do not share the two cores with each other
	@cd $(WS) && TF_CPP_MIN_LOG_LEVEL=0 TF_ENABLE_ONEDNN_OPTS=1 ../env.sh catkin_make run_tests -j1 > rostest.log 2>&1 || { tail -40 rostest.log; exit 1; }
	@grep -E '^\[ROSTEST\]|^\[Testcase|SUMMARY|^ \* RESULT|^ \* TESTS|^ \* ERRORS|^ \* FAILURES' $(WS)/rostest.log || true

test: lint rostest unit  ## everything CI runs, then one summary line
	@./env.sh python test/summary.py $(WS)/build/test_results $(WS)/test_results/pytest.xml

clean:  ## drop the build (keeps .venv)
	rm -rf $(WS)/build $(WS)/devel $(STAMPS)/build demo

distclean:  ## drop the build, .venv and .odapi
	rm -rf $(WS) $(VENV) $(ODAPI) demo

FORCE:

# --- the default model (models/default): how it was made; see models/README.md for the time it took ------
REALDATA ?= ../shared/realdata
RACERS := $(REALDATA)/ros-racers/tl_classification
SDCND := $(REALDATA)/dataset-sdcnd-capstone
TD := $(WS)/default_model
TRAIN_SETTINGS := --two_stage --input_size 512x384 --epochs 40 --steps_per_epoch 60 --batch_size 8 --learning_rate 2e-3 --seed 0 --paste 0.5 --second_look 640x480
RECORD = ./env.sh rosrun tl_classifier create_tf_record --no_progress --label_map_path=$(TD)/label_map.pbtxt --label_mapping=states --overwrite

# One record per source (and its summary, .record.json), from the real data and synthetic frames.
default-model-data: $(STAMPS)/build  ## the training records, one per source
	mkdir -p $(TD)
	cp $(REALDATA)/labelmaps/alex-lechner/data/udacity_label_map.pbtxt $(TD)/label_map.pbtxt
	test -d $(TD)/synth_sim || ./env.sh rosrun tl_classifier synthesize $(TD)/synth_sim --count 240 --lights 3 --voc --states red,yellow,green,off,unknown
	test -d $(TD)/synth_car || ./env.sh rosrun tl_classifier synthesize $(TD)/synth_car --count 120 --size 1368x1096 --lights 2 --voc --seed 1
	$(RECORD) --output_path=$(TD)/synth.record --data_dir=$(TD)/synth_sim,$(TD)/synth_car
	$(RECORD) --output_path=$(TD)/racers_sim.record --data_dir=$(RACERS)/data/images_sim
	$(RECORD) --output_path=$(TD)/racers_sim_val.record --data_dir=$(RACERS)/data/images_sim_val
	$(RECORD) --output_path=$(TD)/racers_real.record --data_dir=$(RACERS)/data/images_real
	$(RECORD) --output_path=$(TD)/racers_real_val.record --data_dir=$(RACERS)/data/images_real_val
	$(RECORD) --output_path=$(TD)/mistermi87.record --data_dir=$(REALDATA)/mistermi87/rosbag_data --include_unlabelled
	$(RECORD) --output_path=$(TD)/sdcnd_real.record --data_dir=$(SDCND)/real_training_data/real_data_annotations.yaml
	$(RECORD) --output_path=$(TD)/sdcnd_sim.record --data_dir=$(SDCND)/sim_training_data/sim_data_annotations.yaml
	$(RECORD) --output_path=$(TD)/dominikma.record --data_dir=$(REALDATA)/dominikma/vott-json-export/SimData-export.json

# Every record but the _val ones, which choose the score threshold. Resumable: run it again after an interruption.
default-model: default-model-data  ## retrain models/default (~31 min on 2 cores), then make report
	./env.sh rosrun tl_classifier train builtin --train_record $(addprefix $(TD)/,$(addsuffix .record,synth racers_sim racers_real mistermi87 sdcnd_real sdcnd_sim dominikma)) \
	  --val_record $(TD)/racers_sim_val.record $(TD)/racers_real_val.record --label_map $(TD)/label_map.pbtxt \
	  --model_dir $(TD)/work --export_dir models/default $(TRAIN_SETTINGS) --overwrite
	cp $(TD)/work/loss.png $(TD)/work/classifier_loss.png models/default/
	$(MAKE) report

# Leave one recording out (docs/leave_one_out.py says which records make up each recording): a model trained
# without each real recording, evaluated on it, into docs/heldout/loro.json: the default model's recipe and schedule,
# about 35 minutes per recording on 2 cores (3 hours for the five; resumable, a finished recording is only evaluated again).
loro: default-model-data  ## leave one recording out (~35 min per recording)
	./env.sh python docs/leave_one_out.py

# --- the project's written report (docs/REPORT.md), from the current models -----------------
# Every model on the real _val and test_images_* sets (their recordings are in the default model's training, these frames
# are not), grouped by recording; the held-out figures come from `make loro` and `make probe` (docs/heldout/).
REPORT_DATA := --data sim_val=$(RACERS)/data/images_sim_val --data sim_test=$(RACERS)/test_images_sim \
  --data car_val=$(RACERS)/data/images_real_val --data car_test=$(RACERS)/test_images_real \
  --group sim_rosracers=sim_val,sim_test --group car_overcast=car_val,car_test
# An OD API model trained into models/ (train run --export_dir models/odapi_NAME) is evaluated beside them.
ODAPI_MODELS := $(patsubst %/model.json,%,$(wildcard models/odapi*/model.json))
report: $(STAMPS)/build  ## evaluate the shipped models (and models/odapi*); write docs/report/ and docs/REPORT.md
	./env.sh rosrun tl_classifier evaluate --model models/default --model models/colour_baseline \
	  $(addprefix --model ,$(ODAPI_MODELS)) $(REPORT_DATA) \
	  --out docs/report --overwrite
	./env.sh python -m tl_classifier.commands.build_report --metrics docs/report/metrics.json --out docs/REPORT.md

benchmarks: $(STAMPS)/venv  ## write docs/BENCHMARKS.md from bench/results/*.json
	./env.sh python -m tl_classifier.commands.build_benchmarks

# What the one-stage model before this one had learnt (docs/probe_colour.py): it and the model trained without
# sdcnd's simulator drives (make loro), probed on those drives; into docs/heldout/probe.json and probe.png.
# Then which stage loses each held-out recording's lights (docs/probe_stages.py): stages.json and stages.png; and
# whether the crop classifiers read the lit lamp or its place in the crop (docs/probe_position.py): position.json/png.
PROBE_OLD := 36eabcd
probe: $(STAMPS)/build  ## the colour and stage probes of docs/REPORT.md (needs make loro first)
	rm -rf $(WS)/old_default && mkdir -p $(WS)/old_default
	for f in frozen_inference_graph.pb label_map.pbtxt model.json; do git show $(PROBE_OLD):models/default/$$f > $(WS)/old_default/$$f; done
	./env.sh python docs/probe_colour.py --model one_stage_before=$(WS)/old_default --model two_stage_without_sim_sdcnd=$(WS)/loro/sim_sdcnd/model \
	  --data sim_sdcnd=$(SDCND)/sim_training_data/sim_data_annotations.yaml --out docs/heldout
	./env.sh python docs/probe_stages.py --out docs/heldout
	./env.sh python docs/probe_position.py --model 'recipe=$(WS)/loro/{recording}/model' --out docs/heldout
