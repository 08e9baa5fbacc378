@echo off
rem Runs the chat on Windows: creates .venv and installs requirements.txt on first use,
rem builds the web client when needed, then starts the server (see .env.example).
cd /d "%~dp0"
if not exist .venv\Scripts\python.exe (
  py -3 -m venv .venv || python -m venv .venv || exit /b 1
  .venv\Scripts\python.exe -m pip install -r requirements.txt || exit /b 1
)
if not exist .env (
  .venv\Scripts\python.exe -c "import secrets,re,pathlib; t=pathlib.Path('.env.example').read_text(); t=re.sub(r'(?m)^SECRET_KEY=.*$', 'SECRET_KEY='+secrets.token_hex(32), t); pathlib.Path('.env').write_text(re.sub(r'(?m)^TRIP_SECRET=.*$', 'TRIP_SECRET='+secrets.token_hex(32), t))" || exit /b 1
  echo Created .env with a random SECRET_KEY and TRIP_SECRET.
)
findstr /b /c:"TRIP_SECRET=" .env >nul || (
  .venv\Scripts\python.exe -c "import secrets; open('.env','a').write('\nTRIP_SECRET='+secrets.token_hex(32)+'\n')" || exit /b 1
  echo Added a random TRIP_SECRET to .env.
)
if exist client\package.json if not exist client\dist\index.html (
  pushd client
  call npm ci || exit /b 1
  call npm run build || exit /b 1
  popd
)
cd server
..\.venv\Scripts\python.exe app.py
