# SPDX-License-Identifier: MIT
# run as: pythonX.Y -I -S fresh.py FILE  -> writes marshal of compile to stdout
import sys, marshal
src=open(sys.argv[1],'rb').read()
sys.stdout.buffer.write(marshal.dumps(compile(src, sys.argv[1], 'exec', dont_inherit=True)))
