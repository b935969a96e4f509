from assessments import create_app

app = create_app()
