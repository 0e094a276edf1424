#!/bin/sh
# An editor for tests/test_state_differential.py: changes what the state commands' --edit offer.
sed -i 's/hello/bye/; s/kept/changed/; s/<name>test</<name>test</; s/<on_crash>destroy/<on_crash>restart/' "$1"
