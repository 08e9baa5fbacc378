@echo off
rem Runs the React development client on http://localhost:8080 with hot reload.
cd /d "%~dp0client"
if not exist package.json (
  echo The web client is not part of this checkout yet.
  exit /b 1
)
if not exist node_modules (
  call npm ci || exit /b 1
)
npm start
