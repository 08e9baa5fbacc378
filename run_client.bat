@echo off
rem Runs the React development client on http://localhost:8080 with hot reload,
rem proxying the socket to the server on http://localhost:5000 (run_server.bat).
cd /d "%~dp0client"
if not exist node_modules (
  call npm ci || exit /b 1
)
npm start
